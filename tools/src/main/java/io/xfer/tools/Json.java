package io.xfer.tools;

/**
 * Builds one-line JSON objects for {@code --json} output, without a library: strings escaped per RFC 8259.
 */
final class Json
{
    private final StringBuilder out = new StringBuilder(128).append('{');
    private boolean first = true;

    Json field(final String name, final String value)
    {
        key(name);
        if (value == null)
        {
            out.append("null");
        }
        else
        {
            quote(value);
        }
        return this;
    }

    Json field(final String name, final long value)
    {
        key(name);
        out.append(value);
        return this;
    }

    Json field(final String name, final double value)
    {
        key(name);
        out.append(Double.isFinite(value) ? String.format(java.util.Locale.ROOT, "%.3f", value) : "null");
        return this;
    }

    Json field(final String name, final boolean value)
    {
        key(name);
        out.append(value);
        return this;
    }

    Json raw(final String name, final String json)
    {
        key(name);
        out.append(json);
        return this;
    }

    @Override
    public String toString()
    {
        return out + "}";
    }

    private void key(final String name)
    {
        if (!first)
        {
            out.append(',');
        }
        first = false;
        quote(name);
        out.append(':');
    }

    private void quote(final String value)
    {
        out.append('"');
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20)
                    {
                        out.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}
