package io.xfer.agent.client;

/**
 * What {@code xfer ping} measured.
 *
 * @param software        the agent's software string from WELCOME.
 * @param version         the protocol version agreed.
 * @param connectNs       TCP connect, TLS handshake and HELLO/WELCOME, together.
 * @param roundTripsNs    one PING/PONG round trip per element.
 */
public record PingReport(String software, int version, long connectNs, long[] roundTripsNs)
{
}
