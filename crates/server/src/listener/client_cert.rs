//! Who is calling, by certificate: the subject and issuer of a verified client certificate,
//! written as NiFi writes DNs, for the [`ClientCert`] the handlers authorize and record.

use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::auth::ClientCert;

/// Subject and issuer of a DER certificate.
pub(crate) fn describe(der: &[u8]) -> Option<ClientCert> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(ClientCert {
        subject: rfc4514(cert.subject()),
        issuer: rfc4514(cert.issuer()),
    })
}

/// A name as NiFi writes it for its *Authorized Subject DN Pattern*: RFC 1779 with spaces,
/// the last RDN first, `, ` between RDNs, ` + ` inside one, the RFC 1779 keywords plus UID
/// and DC, else `OID.` and the dotted OID; a value with special characters quoted.
/// NiFi 2.x: StandardPrincipalFormatter.java (rel/nifi-2.11.0) lines 31-34 and 73-74,
/// `principal.getName(X500Principal.RFC1779, OBJECT_IDENTIFIER_NAMES)`; NiFi 1.28.1:
/// ListenHTTPServlet.java line 225, `cert.getSubjectDN().getName()`, the same form.
fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let key = match oid.as_str() {
                        "2.5.4.3" => "CN",
                        "2.5.4.6" => "C",
                        "2.5.4.7" => "L",
                        "2.5.4.8" => "ST",
                        "2.5.4.10" => "O",
                        "2.5.4.11" => "OU",
                        "2.5.4.9" => "STREET",
                        "0.9.2342.19200300.100.1.25" => "DC",
                        "0.9.2342.19200300.100.1.1" => "UID",
                        other => return format!("OID.{other}={}", value_of(atv)),
                    };
                    format!("{key}={}", value_of(atv))
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(", ")
}

fn value_of(atv: &x509_parser::x509::AttributeTypeAndValue<'_>) -> String {
    atv.as_str()
        .map(quote)
        .unwrap_or_else(|_| format!("#{}", hex_of(atv.attr_value().data)))
}

/// RFC 1779 quoting, as Java's: a value with a special character, or a leading or trailing
/// space, goes in double quotes (with `"` and `\` escaped inside).
fn quote(v: &str) -> String {
    let special = v.is_empty()
        || v.starts_with(' ')
        || v.ends_with(' ')
        || v.contains([',', '+', '=', '<', '>', '#', ';', '"', '\\', '\n']);
    if !special {
        return v.to_owned();
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;

    /// Self-signed, subject `/C=US/O=Example, Inc/CN=nifi-1` (made with `openssl req -x509`).
    const CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIBwTCCAWegAwIBAgIUHsQOw0EFK7fx49hQLzVj8pQKHawwCgYIKoZIzj0EAwIw
NTELMAkGA1UEBhMCVVMxFTATBgNVBAoMDEV4YW1wbGUsIEluYzEPMA0GA1UEAwwG
bmlmaS0xMCAXDTI2MTIwNzEyNDkzNloYDzIxMjYxMTEzMTI0OTM2WjA1MQswCQYD
VQQGEwJVUzEVMBMGA1UECgwMRXhhbXBsZSwgSW5jMQ8wDQYDVQQDDAZuaWZpLTEw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASV7k5TD07Hp7s84Ul+5OaREoYX0RGO
IGcnHfJvi5Fb1T7IuhBzzlRoCn0cVUnMjba5Q2cvgmkH2Cz11YqYrYcoo1MwUTAd
BgNVHQ4EFgQUTTBK8gGhaSjP4WaPDGy9fqYYunowHwYDVR0jBBgwFoAUTTBK8gGh
aSjP4WaPDGy9fqYYunowDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiA9R0hmZCyCO7bM2gN9uqaVzRpLv5aLC3lMImyuBgFzPgIhAJDjUtJdT2RuOHhH
E7PUQP4JzozA6COEy+AGgKVIyh3n
-----END CERTIFICATE-----";

    #[test]
    fn dn_is_written_as_java_does() {
        let der = CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap();
        let c = describe(&der).unwrap();
        assert_eq!(c.subject, "CN=nifi-1, O=\"Example, Inc\", C=US");
        assert_eq!(c.issuer, c.subject);
    }
}
