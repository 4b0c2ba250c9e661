/**
 * The xfer wire protocol, version 1: frame layouts as flyweights over Netty {@link io.netty.buffer.ByteBuf}s,
 * the frame decoder, stable error codes and version and capability negotiation. No sockets and no files here.
 * The normative description with byte diagrams is {@code docs/PROTOCOL.md}.
 */
package io.xfer.protocol;
