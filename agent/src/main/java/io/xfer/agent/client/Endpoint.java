package io.xfer.agent.client;

import io.xfer.agent.config.AgentConfig;

/**
 * Where a transfer goes: {@code xfer://HOST[:PORT]/MODULE/PATH}, or the short form {@code HOST:/MODULE/PATH}.
 * IPv6 hosts are written in brackets.
 *
 * @param host   agent host name or address.
 * @param port   agent port.
 * @param module module name ("" when only host and port are given, as for ping).
 * @param path   path inside the module, without leading slash; a trailing slash is kept (it means "contents").
 */
public record Endpoint(String host, int port, String module, String path)
{
    /**
     * @return the endpoint, or throws IllegalArgumentException with a message that says what is wrong.
     */
    public static Endpoint parse(final String text)
    {
        String rest;
        if (text.startsWith("xfer://"))
        {
            rest = text.substring("xfer://".length());
        }
        else if (text.contains(":/"))
        {
            final int colon = text.indexOf(":/");
            rest = text.substring(0, colon) + text.substring(colon + 1);
        }
        else
        {
            throw new IllegalArgumentException("not an xfer address: '" + text +
                "' (expected xfer://HOST[:PORT]/MODULE/PATH or HOST:/MODULE/PATH)");
        }
        final int slash = rest.indexOf('/');
        final String authority = slash < 0 ? rest : rest.substring(0, slash);
        final String modulePath = slash < 0 ? "" : rest.substring(slash + 1);
        final String[] hostPort = parseAuthority(authority, text);
        final int moduleEnd = modulePath.indexOf('/');
        final String module = moduleEnd < 0 ? modulePath : modulePath.substring(0, moduleEnd);
        final String path = moduleEnd < 0 ? "" : modulePath.substring(moduleEnd + 1);
        return new Endpoint(hostPort[0], Integer.parseInt(hostPort[1]), module, path);
    }

    /**
     * Parse {@code HOST[:PORT]} (as for ping); also accepts a full address and ignores its module path.
     */
    public static Endpoint parseHost(final String text)
    {
        if (text.startsWith("xfer://") || text.contains(":/"))
        {
            return parse(text);
        }
        final String[] hostPort = parseAuthority(text, text);
        return new Endpoint(hostPort[0], Integer.parseInt(hostPort[1]), "", "");
    }

    private static String[] parseAuthority(final String authority, final String text)
    {
        String host = authority;
        String port = Integer.toString(AgentConfig.DEFAULT_PORT);
        if (authority.startsWith("["))
        {
            final int close = authority.indexOf(']');
            if (close < 0)
            {
                throw new IllegalArgumentException("unterminated IPv6 address in '" + text + "'");
            }
            host = authority.substring(1, close);
            if (authority.length() > close + 1)
            {
                if (authority.charAt(close + 1) != ':')
                {
                    throw new IllegalArgumentException("bad host in '" + text + "'");
                }
                port = authority.substring(close + 2);
            }
        }
        else if (authority.indexOf(':') >= 0)
        {
            final int colon = authority.lastIndexOf(':');
            host = authority.substring(0, colon);
            port = authority.substring(colon + 1);
        }
        if (host.isEmpty())
        {
            throw new IllegalArgumentException("no host in '" + text + "'");
        }
        try
        {
            final int number = Integer.parseInt(port);
            if (number < 1 || number > 65535)
            {
                throw new NumberFormatException();
            }
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("bad port '" + port + "' in '" + text + "'");
        }
        return new String[] {host, port};
    }

    @Override
    public String toString()
    {
        final String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return "xfer://" + h + ":" + port + "/" + module + (path.isEmpty() ? "" : "/" + path);
    }
}
