//! Outgoing mail through the SMTP server of `--smtp-url`, with lettre. keyward sends mail only
//! to deliver a link a user asked for; a server that refuses or cannot be reached is
//! `Reason::Unavailable`, and what went wrong goes to the log, never to the client.
//!
//! The mail server's host name is resolved here, with hickory (from /etc/hosts and the name
//! servers of /etc/resolv.conf), never through glibc's getaddrinfo: the release binary is
//! linked statically, and a static glibc loads the NSS modules named in /etc/nsswitch.conf
//! (mdns, systemd's resolve) as shared libraries of the host's own glibc, which can fail or
//! crash. lettre then connects to the address, and checks the certificate against the name.

use crate::config::Settings;
use crate::error::{Error, Reason, Result};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long one delivery may take, connection and dialogue together.
const TIMEOUT: Duration = Duration::from_secs(15);

pub struct Mailer {
    /// The server: an address as it is, or a name resolved at each delivery (the resolver
    /// caches by the records' TTL).
    host: String,
    resolver: Option<hickory_resolver::TokioResolver>,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    from: Mailbox,
}

/// One message, in plain text and in HTML.
pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: String,
    pub html: String,
}

impl Mailer {
    /// The mailer of the settings, or None when no mail server is configured.
    pub fn from_settings(s: &Settings, public_url: &str) -> Result<Option<Mailer>> {
        let Some(url) = &s.smtp_url else {
            return Ok(None);
        };
        // An IPv6 address comes bracketed in a URL.
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let bad = |what: String| Error::bad_request(format!("--smtp-url: {what}"));
        let tls = |host: &str| {
            TlsParameters::new(host.to_string()).map_err(|e| bad(format!("TLS for {host}: {e}")))
        };
        let required = url
            .query_pairs()
            .any(|(k, v)| k == "tls" && v == "required");
        let (port, tls) = match url.scheme() {
            "smtps" => (465, Tls::Wrapper(tls(&host)?)),
            _ if required => (587, Tls::Required(tls(&host)?)),
            _ => (587, Tls::Opportunistic(tls(&host)?)),
        };
        let credentials = match (&s.smtp_username, &s.smtp_password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password.clone())),
            _ => None,
        };
        let resolver = match host.parse::<std::net::IpAddr>() {
            Ok(_) => None,
            Err(_) => Some(
                hickory_resolver::TokioResolver::builder_tokio()
                    .map_err(|e| {
                        bad(format!(
                            "cannot read the DNS configuration to find {host}: {e}"
                        ))
                    })?
                    .build(),
            ),
        };
        let from = match &s.smtp_from {
            Some(f) => f
                .parse::<Mailbox>()
                .map_err(|e| Error::bad_request(format!("--smtp-from {f:?}: {e}")))?,
            None => {
                let host = url::Url::parse(public_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_else(|| "localhost".into());
                format!("keyward <keyward@{host}>")
                    .parse::<Mailbox>()
                    .map_err(|e| Error::bad_request(format!("--smtp-from (default): {e}")))?
            }
        };
        Ok(Some(Mailer {
            host,
            resolver,
            port: url.port().unwrap_or(port),
            tls,
            credentials,
            from,
        }))
    }

    /// A transport to the server's address now. TLS checks the certificate against the
    /// configured name, whatever address it was reached at.
    async fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
        let address = match &self.resolver {
            None => self.host.clone(),
            Some(r) => r
                .lookup_ip(self.host.as_str())
                .await
                .ok()
                .and_then(|found| found.iter().next())
                .ok_or_else(|| {
                    tracing::warn!(host = %self.host, "the mail server's name does not resolve");
                    Error::new(
                        Reason::Unavailable,
                        "the mail server cannot be reached; try again later",
                    )
                })?
                .to_string(),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address)
            .port(self.port)
            .tls(self.tls.clone())
            .timeout(Some(TIMEOUT));
        if let Some(c) = &self.credentials {
            builder = builder.credentials(c.clone());
        }
        Ok(builder.build())
    }

    /// Sends one message. An address that cannot be mailed is `Precondition`; a server that
    /// refuses or is down is `Unavailable`.
    pub async fn send(&self, mail: Mail<'_>) -> Result<()> {
        let to = mail.to.parse::<Mailbox>().map_err(|_| {
            Error::new(
                Reason::Precondition,
                "the user's e-mail address cannot receive mail",
            )
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| Error::internal(format!("composing mail: {e}")))?;
        let transport = self.transport().await?;
        transport.send(message).await.map_err(|e| {
            tracing::warn!(error = %e, "the mail server did not take a message");
            Error::new(
                Reason::Unavailable,
                "the mail server did not accept the message; try again later",
            )
        })?;
        Ok(())
    }
}
