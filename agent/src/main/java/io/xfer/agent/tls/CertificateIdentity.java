package io.xfer.agent.tls;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;

import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The identities a peer certificate proves, as matched by module access rules.
 */
public final class CertificateIdentity
{
    private CertificateIdentity()
    {
    }

    /**
     * The identities of a certificate: the subject common name first (if there is one), then the DNS names,
     * IP addresses and URIs of its subjectAltName extension in certificate order, without duplicates.
     * <p>
     * IPv4 addresses are written in dotted form ({@code 10.0.0.1}), IPv6 addresses in the RFC 5952 compressed
     * lower-case form ({@code ::1}, {@code 2001:db8::7}). Other alternative name types are ignored.
     *
     * @param certificate peer certificate.
     * @return the identities, possibly empty, never null.
     * @throws IllegalArgumentException if the certificate cannot be parsed.
     */
    public static List<String> identities(final X509Certificate certificate)
    {
        final X509CertificateHolder holder;
        try
        {
            holder = new JcaX509CertificateHolder(certificate);
        }
        catch (final CertificateEncodingException | RuntimeException ex)
        {
            throw new IllegalArgumentException("cannot parse certificate: " + ex.getMessage(), ex);
        }

        final Set<String> identities = new LinkedHashSet<>();
        final String commonName = commonName(holder.getSubject());
        if (null != commonName)
        {
            identities.add(commonName);
        }

        final Extension altNames = holder.getExtension(Extension.subjectAlternativeName);
        if (null != altNames)
        {
            for (final GeneralName altName : GeneralNames.getInstance(altNames.getParsedValue()).getNames())
            {
                final String identity = identity(altName);
                if (null != identity)
                {
                    identities.add(identity);
                }
            }
        }

        return List.copyOf(identities);
    }

    /**
     * The subject common name of a certificate: the most specific (last) CN if there are several.
     *
     * @param certificate certificate to read.
     * @return the common name, or null if the subject has none.
     */
    public static String commonName(final X509Certificate certificate)
    {
        return commonName(X500Name.getInstance(certificate.getSubjectX500Principal().getEncoded()));
    }

    private static String commonName(final X500Name subject)
    {
        final RDN[] rdns = subject.getRDNs(BCStyle.CN);
        if (rdns.length == 0)
        {
            return null;
        }

        // Like hostname verification, take the most specific CN.
        final ASN1Encodable value = rdns[rdns.length - 1].getFirst().getValue();
        final String commonName = value instanceof ASN1String ?
            ((ASN1String)value).getString() : IETFUtils.valueToString(value);

        return commonName.isEmpty() ? null : commonName;
    }

    private static String identity(final GeneralName altName)
    {
        switch (altName.getTagNo())
        {
            case GeneralName.dNSName:
            case GeneralName.uniformResourceIdentifier:
                return ((ASN1String)altName.getName()).getString();

            case GeneralName.iPAddress:
                return ipAddress(ASN1OctetString.getInstance(altName.getName()).getOctets());

            default:
                return null;
        }
    }

    private static String ipAddress(final byte[] octets)
    {
        if (octets.length == 4)
        {
            return (octets[0] & 0xFF) + "." + (octets[1] & 0xFF) + "." + (octets[2] & 0xFF) + "." + (octets[3] & 0xFF);
        }
        if (octets.length != 16)
        {
            // Address with netmask: only valid in name constraints, never an identity.
            return null;
        }

        final int[] groups = new int[8];
        for (int i = 0; i < 8; i++)
        {
            groups[i] = ((octets[2 * i] & 0xFF) << 8) | (octets[2 * i + 1] & 0xFF);
        }

        // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; )
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && groups[j] == 0)
            {
                j++;
            }
            if (j - i > bestLength)
            {
                bestStart = i;
                bestLength = j - i;
            }
            i = j;
        }

        final StringBuilder text = new StringBuilder(39);
        for (int i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                text.append("::");
                i += bestLength - 1;
                continue;
            }
            if (text.length() > 0 && text.charAt(text.length() - 1) != ':')
            {
                text.append(':');
            }
            text.append(Integer.toHexString(groups[i]));
        }

        return text.toString();
    }
}
