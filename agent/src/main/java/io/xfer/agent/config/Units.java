package io.xfer.agent.config;

import java.util.Locale;

/**
 * Parses sizes ("64k", "1m", "2g", or plain bytes) and durations ("500ms", "10s", "5m", "1h", or plain seconds)
 * as they appear in the configuration file and on the command line.
 */
public final class Units
{
    private Units()
    {
    }

    public static long parseSize(final String name, final String value)
    {
        final String v = value.trim().toLowerCase(Locale.ROOT);
        if (v.isEmpty())
        {
            throw new ConfigurationException(name + ": empty size");
        }
        long multiplier = 1;
        String digits = v;
        final char last = v.charAt(v.length() - 1);
        switch (last)
        {
            case 'k': multiplier = 1L << 10; break;
            case 'm': multiplier = 1L << 20; break;
            case 'g': multiplier = 1L << 30; break;
            case 't': multiplier = 1L << 40; break;
            default: break;
        }
        if (multiplier != 1)
        {
            digits = v.substring(0, v.length() - 1);
        }
        try
        {
            final long number = Long.parseLong(digits.trim());
            if (number < 0)
            {
                throw new ConfigurationException(name + ": negative size '" + value + "'");
            }
            return Math.multiplyExact(number, multiplier);
        }
        catch (final NumberFormatException | ArithmeticException ex)
        {
            throw new ConfigurationException(name + ": not a size '" + value + "' (examples: 4096, 64k, 1m, 2g)");
        }
    }

    public static long parseDurationNs(final String name, final String value)
    {
        final String v = value.trim().toLowerCase(Locale.ROOT);
        long unitNs = 1_000_000_000L;
        String digits = v;
        if (v.endsWith("ms"))
        {
            unitNs = 1_000_000L;
            digits = v.substring(0, v.length() - 2);
        }
        else if (v.endsWith("us"))
        {
            unitNs = 1_000L;
            digits = v.substring(0, v.length() - 2);
        }
        else if (v.endsWith("ns"))
        {
            unitNs = 1L;
            digits = v.substring(0, v.length() - 2);
        }
        else if (v.endsWith("s"))
        {
            digits = v.substring(0, v.length() - 1);
        }
        else if (v.endsWith("m"))
        {
            unitNs = 60_000_000_000L;
            digits = v.substring(0, v.length() - 1);
        }
        else if (v.endsWith("h"))
        {
            unitNs = 3_600_000_000_000L;
            digits = v.substring(0, v.length() - 1);
        }
        else if (v.endsWith("d"))
        {
            unitNs = 86_400_000_000_000L;
            digits = v.substring(0, v.length() - 1);
        }
        try
        {
            final long number = Long.parseLong(digits.trim());
            if (number < 0)
            {
                throw new ConfigurationException(name + ": negative duration '" + value + "'");
            }
            return Math.multiplyExact(number, unitNs);
        }
        catch (final NumberFormatException | ArithmeticException ex)
        {
            throw new ConfigurationException(name + ": not a duration '" + value + "' (examples: 500ms, 10s, 5m)");
        }
    }

    /**
     * A link rate, in bytes per second. Bits per second in the notation of tc and iperf3 ({@code 200mbit},
     * {@code 1gbit}, {@code 2.5gbit}; k, m, g, t are powers of 1000), or bytes per second as a size
     * ({@code 100m} = 100 MiB/s, the notation of the other sizes).
     */
    public static long parseRate(final String name, final String value)
    {
        final String v = value.trim().toLowerCase(Locale.ROOT);
        if (v.endsWith("bit"))
        {
            String digits = v.substring(0, v.length() - 3);
            long multiplier = 1;
            if (!digits.isEmpty())
            {
                switch (digits.charAt(digits.length() - 1))
                {
                    case 'k': multiplier = 1_000L; break;
                    case 'm': multiplier = 1_000_000L; break;
                    case 'g': multiplier = 1_000_000_000L; break;
                    case 't': multiplier = 1_000_000_000_000L; break;
                    default: break;
                }
            }
            if (multiplier != 1)
            {
                digits = digits.substring(0, digits.length() - 1);
            }
            digits = digits.trim();
            final double bits = digits.matches("[0-9]{1,15}(\\.[0-9]{1,9})?") ?
                Double.parseDouble(digits) * multiplier : -1;
            if (bits < 8 || bits > 8e15)
            {
                throw new ConfigurationException(name + ": not a rate '" + value +
                    "' (examples: 200mbit, 10gbit, or 100m for 100 MiB/s; at least 8bit)");
            }
            return (long)(bits / 8);
        }
        final long bytes;
        try
        {
            bytes = parseSize(name, value);
        }
        catch (final ConfigurationException ex)
        {
            throw new ConfigurationException(name + ": not a rate '" + value +
                "' (examples: 200mbit, 10gbit, or 100m for 100 MiB/s)");
        }
        if (bytes < 1)
        {
            throw new ConfigurationException(name + ": a rate must be positive, was '" + value + "'");
        }
        return bytes;
    }

    public static boolean parseBoolean(final String name, final String value)
    {
        switch (value.trim().toLowerCase(Locale.ROOT))
        {
            case "true": case "yes": case "on": case "1": return true;
            case "false": case "no": case "off": case "0": return false;
            default: throw new ConfigurationException(name + ": not a boolean '" + value + "' (true or false)");
        }
    }
}
