//! `[[service]]` entries read into service specs: checks parsed, loopback
//! enforced unless `allow_remote`, commands as argv or a shell line.

use super::*;

pub(super) fn services(entries: &[ServiceConfig], text: &str) -> Result<Vec<ServiceSpec>, String> {
    let mut out: Vec<ServiceSpec> = Vec::new();
    for e in entries {
        let line = |offset: usize| line_of(text, offset);
        let name = e.name.get_ref().trim().to_owned();
        if name.is_empty() {
            return Err(format!(
                "`service.name` must not be empty (line {})",
                line(e.name.span().start)
            ));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(format!(
                "`service.name`: a second service called {name:?} (line {})",
                line(e.name.span().start)
            ));
        }
        let at = line(e.check.span().start);
        let check = match e.check.get_ref() {
            CheckConfig::Url(url) => parse_check(url).map_err(|m| format!("`service.check`: {m} (line {at})"))?,
            CheckConfig::Command { command } => {
                if command.first().is_none_or(|p| p.trim().is_empty()) {
                    return Err(format!("`service.check.command` must name a program (line {at})"));
                }
                Check::Command(command.clone())
            }
        };
        if let Check::Http { host, .. } | Check::Tcp { host, .. } = &check {
            if !e.allow_remote && !is_loopback(host) {
                return Err(format!(
                    "`service.check` of {name:?} goes to {host}, which is not a loopback address; \
                     vigil talks to loopback only unless the entry says `allow_remote = true` (line {at})"
                ));
            }
        }
        let filter = crate::core::filterset::Filter::parse(e.needed_by.get_ref()).map_err(|m| {
            format!(
                "`service.needed_by` of {name:?}: {m} (line {})",
                line(e.needed_by.span().start)
            )
        })?;
        let command = |c: &Option<Spanned<CommandConfig>>, key: &str| -> Result<Option<Vec<String>>, String> {
            let Some(c) = c else { return Ok(None) };
            let (argv, empty) = match c.get_ref() {
                CommandConfig::Argv(argv) => (argv.clone(), argv.first().is_none_or(|p| p.trim().is_empty())),
                CommandConfig::Shell(l) => (vec!["sh".to_owned(), "-c".to_owned(), l.clone()], l.trim().is_empty()),
            };
            if empty {
                return Err(format!(
                    "`service.{key}` must name a program (line {})",
                    line(c.span().start)
                ));
            }
            Ok(Some(argv))
        };
        let duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| -> Result<Duration, String> {
            match v {
                None => Ok(default),
                Some(v) => parse_duration(v.get_ref())
                    .and_then(|d| {
                        if d.is_zero() {
                            Err("must be more than zero".to_owned())
                        } else {
                            Ok(d)
                        }
                    })
                    .map_err(|m| format!("`service.{key}`: {m} (line {})", line(v.span().start))),
            }
        };
        let proxy = match &e.proxy {
            None => None,
            Some(p) => {
                let at = line(p.span().start);
                let addr = |key: &str, text: &str| -> Result<std::net::SocketAddr, String> {
                    let a: std::net::SocketAddr = text.parse().map_err(|_| {
                        format!("`service.proxy.{key}` of {name:?}: {text:?} is not an address like \"127.0.0.1:18080\" (line {at})")
                    })?;
                    if !e.allow_remote && !a.ip().is_loopback() {
                        return Err(format!(
                            "`service.proxy.{key}` of {name:?} is {text}, which is not a loopback address; \
                             vigil talks to loopback only unless the entry says `allow_remote = true` (line {at})"
                        ));
                    }
                    Ok(a)
                };
                let (listen, to) = (addr("listen", &p.get_ref().listen)?, addr("to", &p.get_ref().to)?);
                let (listen, to) = (listen.to_string(), to.to_string());
                if listen == to {
                    return Err(format!(
                        "`service.proxy` of {name:?} listens where it forwards to ({listen}) (line {at})"
                    ));
                }
                let mut stub = Vec::new();
                for (path, s) in e.stub.as_ref().map(|s| s.get_ref().iter()).into_iter().flatten() {
                    let status = s.status.unwrap_or(200);
                    if !path.starts_with('/') || !(100..=599).contains(&status) {
                        return Err(format!(
                            "`service.stub` of {name:?}: {path:?} needs a path starting with `/` and a status from 100 to 599 (line {})",
                            line(e.stub.as_ref().map_or(0, |s| s.span().start))
                        ));
                    }
                    let json = matches!(s.body.trim_start().chars().next(), Some('{' | '['));
                    stub.push(crate::core::faults::Stub {
                        path: path.clone(),
                        status,
                        body: s.body.clone(),
                        content_type: s
                            .content_type
                            .clone()
                            .unwrap_or_else(|| if json { "application/json" } else { "text/plain" }.to_owned()),
                    });
                }
                Some(crate::core::faults::ProxySpec {
                    listen,
                    to,
                    http: matches!(check, Check::Http { .. }),
                    health_path: match &check {
                        Check::Http { path, .. } => Some(path.clone()),
                        _ => None,
                    },
                    stub,
                })
            }
        };
        if e.stub.is_some() && !proxy.as_ref().is_some_and(|p| p.http) {
            return Err(format!(
                "`service.stub` of {name:?} needs a `proxy` in front of an HTTP service (line {})",
                line(e.stub.as_ref().map_or(0, |s| s.span().start))
            ));
        }
        let mut faults = Vec::new();
        for f in &e.faults {
            let at = line(f.span().start);
            if proxy.is_none() {
                return Err(format!(
                    "`service.faults` of {name:?} need a `proxy` to inject them (line {at})"
                ));
            }
            faults.push(
                crate::core::faults::Fault::parse(f.get_ref())
                    .map_err(|m| format!("`service.faults` of {name:?}: {m} (line {at})"))?,
            );
        }
        out.push(ServiceSpec {
            proxy,
            faults,
            check,
            needed_by: e.needed_by.get_ref().clone(),
            filter,
            start: command(&e.start, "start")?,
            stop: command(&e.stop, "stop")?,
            timeout: duration(&e.timeout, "timeout", Duration::from_secs(2))?,
            interval: duration(&e.interval, "interval", Duration::from_secs(5))?,
            start_timeout: duration(&e.start_timeout, "start_timeout", Duration::from_secs(30))?,
            allow_blocked: e.allow_blocked,
            name,
        });
    }
    Ok(out)
}

/// `http://host:port/path` or `tcp://host:port`.
pub(super) fn parse_check(url: &str) -> Result<Check, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("{url:?} is not a URL like \"http://127.0.0.1:8080/health\" or \"tcp://127.0.0.1:5432\"")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{url:?}: the port {p:?} is not a number"))?,
        ),
        _ if scheme == "http" && !authority.is_empty() => (authority, 80),
        _ => return Err(format!("{url:?} needs a host and a port")),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    match scheme {
        "http" => Ok(Check::Http {
            url: url.to_owned(),
            host,
            port,
            path: path.to_owned(),
        }),
        "tcp" => Ok(Check::Tcp { host, port }),
        "https" => Err(format!(
            "{url:?}: https checks are not supported; check the plain HTTP port on loopback, or use {{ command = [\"curl\", \"-fsS\", \"…\"] }}"
        )),
        other => Err(format!("{url:?}: the scheme {other:?} is not one of http, tcp")),
    }
}

/// `localhost`, `127.0.0.0/8`, `::1`.
pub(super) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
