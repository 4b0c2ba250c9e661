package io.xfer.agent.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Flow-control window and socket buffers sized for a link's bandwidth-delay product: the rate its user states
 * ({@code --bandwidth}) times the round trip measured on the control connection, shared by the transfer's streams.
 *
 * <p>To keep one TCP connection at rate R over a round trip T, R*T bytes must be in flight: in the sender's
 * window of unacknowledged chunks, in the kernel's send buffer and in the receiver's advertised window. Linux
 * counts its own bookkeeping in the buffer sizes (half of SO_RCVBUF goes to the window with the default
 * {@code tcp_adv_win_scale}), so each stream's buffers are sized at twice its share of the product. Where the
 * kernel's autotuning reaches that size ({@code net.ipv4.tcp_wmem}/{@code tcp_rmem}, third field) the buffers are
 * left to it, since it adapts and a fixed size switches it off; beyond that they are set explicitly, and
 * {@link io.xfer.agent.net.SocketBuffers} reports a clamp by {@code net.core.wmem_max}/{@code rmem_max}.
 *
 * @param bandwidthBytesPerSecond the link rate given.
 * @param rttNs                   the smallest round trip measured.
 * @param streams                 streams the agent granted.
 * @param bdpBytes                bandwidth-delay product of the whole link.
 * @param windowBytes             unacknowledged bytes per stream this side will allow (sending), or the agent
 *                                allows (receiving).
 * @param socketBufferBytes       SO_SNDBUF/SO_RCVBUF per connection; 0 leaves them to the kernel.
 * @param advice                  what limits the transfer below the link rate, in words; empty when nothing
 *                                does.
 */
public record LinkSizing(
    long bandwidthBytesPerSecond,
    long rttNs,
    int streams,
    long bdpBytes,
    long windowBytes,
    int socketBufferBytes,
    List<String> advice)
{
    /** The most a socket buffer is set to: beyond it, more streams are the better answer. */
    public static final int MAX_SOCKET_BUFFER_BYTES = 256 << 20;

    /** Whose settings the advice names: the client's options or the agent's configuration. */
    public enum Side
    {
        CLIENT("--streams %d would", "--socket-buffer", "leave it out to size it from --bandwidth"),
        AGENT("a client's --streams %d would", "socket_buffer", "set it to 0 to size it from bandwidth");

        private final String moreStreams;
        private final String socketBufferSetting;
        private final String socketBufferRemedy;

        Side(final String moreStreams, final String socketBufferSetting, final String socketBufferRemedy)
        {
            this.moreStreams = moreStreams;
            this.socketBufferSetting = socketBufferSetting;
            this.socketBufferRemedy = socketBufferRemedy;
        }
    }

    /**
     * @param bandwidthBytesPerSecond the link rate.
     * @param rttNs                   the round trip measured.
     * @param streams                 streams granted.
     * @param chunkLength             chunk length granted.
     * @param requestedWindowBytes    this side's own window ({@code --window}); kept when larger than needed.
     * @param grantedWindowBytes      the agent's window per stream (its {@code stream_window}).
     * @param sending                 this side sends the data (a push); otherwise the agent does.
     * @param socketBufferBytes       a size the user set ({@code --socket-buffer}), 0 for none.
     * @param autotuneMaxBytes        the largest buffer the kernel's autotuning reaches in this side's direction,
     *                                or -1 when unknown.
     * @param settableMaxBytes        the most a process may set ({@code net.core.wmem_max} and {@code rmem_max},
     *                                the smaller), or -1 when unknown. The kernel clamps to it and doubles, and a
     *                                set size switches autotuning off, so a size it would clamp below what
     *                                autotuning reaches is not set at all.
     */
    public static LinkSizing of(
        final long bandwidthBytesPerSecond,
        final long rttNs,
        final int streams,
        final int chunkLength,
        final long requestedWindowBytes,
        final long grantedWindowBytes,
        final boolean sending,
        final int socketBufferBytes,
        final long autotuneMaxBytes,
        final long settableMaxBytes)
    {
        return of(bandwidthBytesPerSecond, rttNs, streams, chunkLength, requestedWindowBytes, grantedWindowBytes,
            sending, socketBufferBytes, autotuneMaxBytes, settableMaxBytes, Side.CLIENT);
    }

    /**
     * As {@link #of(long, long, int, int, long, long, boolean, int, long, long)}, with the advice in the words of
     * {@code side}'s settings.
     */
    public static LinkSizing of(
        final long bandwidthBytesPerSecond,
        final long rttNs,
        final int streams,
        final int chunkLength,
        final long requestedWindowBytes,
        final long grantedWindowBytes,
        final boolean sending,
        final int socketBufferBytes,
        final long autotuneMaxBytes,
        final long settableMaxBytes,
        final Side side)
    {
        if (bandwidthBytesPerSecond <= 0 || rttNs <= 0 || streams <= 0)
        {
            throw new IllegalArgumentException("rate, round trip and streams must be positive");
        }
        final List<String> advice = new ArrayList<>();
        final long bdp = bdpBytes(bandwidthBytesPerSecond, rttNs);
        final long perStream = (bdp + streams - 1) / streams;
        final long needed = windowNeededBytes(bandwidthBytesPerSecond, rttNs, streams, chunkLength);
        final long window;
        if (sending)
        {
            window = Math.min(grantedWindowBytes, Math.max(requestedWindowBytes, needed));
        }
        else
        {
            window = grantedWindowBytes;
        }
        long streamsNeeded = streams;
        final List<String> limits = new ArrayList<>();
        if (window < needed)
        {
            final long share = Math.max(1, window - chunkLength);
            streamsNeeded = Math.max(streamsNeeded, (bdp + share - 1) / share);
            limits.add(String.format(Locale.ROOT, "each stream needs %s in flight, the agent allows %s (its " +
                "stream_window; raise it, or use more streams)", bytes(needed), bytes(window)));
        }
        if (2 * perStream > MAX_SOCKET_BUFFER_BYTES)
        {
            streamsNeeded = Math.max(streamsNeeded, (2 * bdp + MAX_SOCKET_BUFFER_BYTES - 1) / MAX_SOCKET_BUFFER_BYTES);
            limits.add(String.format(Locale.ROOT, "each stream's socket buffers would need %s, more than the %s " +
                "they are given at most", bytes(2 * perStream), bytes(MAX_SOCKET_BUFFER_BYTES)));
        }
        if (!limits.isEmpty())
        {
            advice.add(String.format(Locale.ROOT, "%d streams cannot fill %s at a round trip of %.2f ms (%s in " +
                "flight): %s; " + side.moreStreams, streams, rate(bandwidthBytesPerSecond), rttNs / 1e6,
                bytes(bdp), String.join("; ", limits), Math.min(1024, Math.max(streams + 1, streamsNeeded))));
        }
        int buffers = socketBufferBytes;
        if (buffers <= 0)
        {
            final long target = Math.min(2 * perStream, MAX_SOCKET_BUFFER_BYTES);
            final long autotune = autotuneMaxBytes > 0 ? autotuneMaxBytes : 4L << 20;
            buffers = 0;
            if (target > autotune)
            {
                final long granted = settableMaxBytes > 0 ? 2 * Math.min(target, settableMaxBytes) : 2 * target;
                if (granted > autotune)
                {
                    buffers = (int)target;
                }
                if (settableMaxBytes > 0 && settableMaxBytes < target)
                {
                    advice.add(String.format(Locale.ROOT, "each stream's socket buffers need %s, the kernel lets a " +
                        "process set at most %s (%s): raise them, for example sysctl -w net.core.wmem_max=%d " +
                        "net.core.rmem_max=%d", bytes(target), bytes(settableMaxBytes), buffers > 0 ?
                        "set to that" : "less than autotuning reaches, which is used instead", target, target));
                }
            }
        }
        else if (socketBufferBytes < 2 * perStream)
        {
            advice.add(String.format(Locale.ROOT, "%s %s is below twice each stream's share of the " +
                "bandwidth-delay product (%s): %s", side.socketBufferSetting, bytes(socketBufferBytes),
                bytes(2 * perStream), side.socketBufferRemedy));
        }
        return new LinkSizing(bandwidthBytesPerSecond, rttNs, streams, bdp, window, buffers, List.copyOf(advice));
    }

    /** The bandwidth-delay product. */
    public static long bdpBytes(final long bandwidthBytesPerSecond, final long rttNs)
    {
        return (long)Math.ceil(bandwidthBytesPerSecond * (rttNs / 1e9));
    }

    /**
     * The window one stream needs: the chunks in flight must cover its share of the bandwidth-delay product, plus
     * one being written.
     */
    public static long windowNeededBytes(
        final long bandwidthBytesPerSecond, final long rttNs, final int streams, final int chunkLength)
    {
        final long bdp = bdpBytes(bandwidthBytesPerSecond, rttNs);
        return (bdp + streams - 1) / streams + chunkLength;
    }

    /** One line for people: the rate, the round trip, the product and what was set. */
    public String describe()
    {
        return String.format(Locale.ROOT, "link %s x round trip %.2f ms = %s in flight; %d streams, window %s " +
            "per stream, socket buffers %s", rate(bandwidthBytesPerSecond), rttNs / 1e6, bytes(bdpBytes), streams,
            bytes(windowBytes), socketBufferBytes > 0 ? bytes(socketBufferBytes) : "kernel autotuning");
    }

    private static String rate(final long bytesPerSecond)
    {
        final double bits = bytesPerSecond * 8.0;
        return bits >= 1e9 ? String.format(Locale.ROOT, "%.1f Gbit/s", bits / 1e9) :
            String.format(Locale.ROOT, "%.1f Mbit/s", bits / 1e6);
    }

    private static String bytes(final long bytes)
    {
        return bytes >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0) :
            String.format(Locale.ROOT, "%.0f KiB", Math.ceil(bytes / 1024.0));
    }
}
