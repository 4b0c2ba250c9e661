package io.xfer.agent.net;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.xfer.agent.config.AgentConfig;

import java.util.concurrent.ThreadFactory;

/**
 * The Netty transport in use: native epoll when it loads, NIO otherwise (or as configured).
 */
public final class Transports
{
    private final boolean epoll;
    private final String description;

    private Transports(final boolean epoll, final String description)
    {
        this.epoll = epoll;
        this.description = description;
    }

    public static Transports select(final AgentConfig.Transport wanted)
    {
        switch (wanted)
        {
            case NIO:
                return new Transports(false, "nio (configured)");
            case EPOLL:
                Epoll.ensureAvailability();
                return new Transports(true, "epoll (configured)");
            default:
                if (Epoll.isAvailable())
                {
                    return new Transports(true, "epoll (native)");
                }
                return new Transports(false, "nio (epoll unavailable: " + Epoll.unavailabilityCause() + ")");
        }
    }

    public String description()
    {
        return description;
    }

    /** @return "epoll" or "nio": what moves this process's bytes, for reports. */
    public String name()
    {
        return epoll ? "epoll" : "nio";
    }

    public EventLoopGroup newGroup(final int threads, final ThreadFactory threadFactory)
    {
        final IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        return new MultiThreadIoEventLoopGroup(threads, threadFactory, factory);
    }

    public Class<? extends ServerChannel> serverChannel()
    {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public Class<? extends Channel> clientChannel()
    {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /**
     * The kernel's smoothed round trip of a connection ({@code tcpi_rtt} of TCP_INFO), in nanoseconds, or -1 where
     * the transport cannot read it (NIO) or has no sample yet.
     */
    public static long smoothedRttNs(final Channel channel)
    {
        if (channel instanceof EpollSocketChannel epoll && epoll.isActive())
        {
            final long rttUs = epoll.tcpInfo().rtt();
            return rttUs > 0 ? rttUs * 1000 : -1;
        }
        return -1;
    }
}
