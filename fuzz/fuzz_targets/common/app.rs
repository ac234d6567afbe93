//! The WSGI application the WSGI fuzz targets serve (shared by `wsgi_request` and
//! `faithful_request`): it picks a behaviour from the path's second byte.

use std::io::Read;
use std::sync::atomic::{AtomicU8, Ordering};

use gateway::simple_server::demo_app;
use gateway::{Body, Environ, Error, StartResponse};

/// The behaviour the application picked for the request being served.
pub static KIND: AtomicU8 = AtomicU8::new(u8::MAX);

/// Serves one request the way the path's second byte picks (see the targets' docs).
pub fn app(environ: &Environ, sr: &mut dyn StartResponse) -> gateway::Result<Body> {
    let path = environ.get("PATH_INFO").unwrap_or("");
    let text = [("Content-Type", "text/plain")];
    let kind = path.as_bytes().get(1).copied().unwrap_or(0) % 9;
    KIND.store(kind, Ordering::Relaxed);
    match kind {
        0 => demo_app(environ, sr),
        1 => {
            let mut body = Vec::new();
            environ.input().read_to_end(&mut body)?;
            let len = body.len().to_string();
            sr.start_response("200 OK", &[text[0], ("Content-Length", &len)], None)?;
            Ok(Body::one(body))
        }
        2 => {
            sr.start_response("200 OK", &text, None)?;
            Ok(Body::chunks(vec![
                b"a".to_vec(),
                Vec::new(),
                b"bc".to_vec(),
            ]))
        }
        3 => {
            sr.start_response("201 Created", &text, None)?;
            sr.write(b"written")?;
            Ok(Body::from_static(b"!"))
        }
        4 => Err(Error::App("an error before the headers".into())),
        5 => {
            sr.start_response("200 OK", &text, None)?;
            Ok(Body::iter(vec![
                Ok(b"part".to_vec()),
                Err(Error::App("an error after the headers".into())),
            ]))
        }
        6 => {
            sr.start_response("200 OK", &[text[0], ("Content-Length", "10")], None)?;
            Ok(Body::from_static(b"short"))
        }
        7 => {
            sr.start_response("200 OK", &[text[0], ("Content-Length", "2")], None)?;
            Ok(Body::chunks(vec![b"lo".to_vec(), b"nger".to_vec()]))
        }
        _ => {
            let status = if path.len() % 2 == 0 {
                "204 No Content"
            } else {
                "304 Not Modified"
            };
            sr.start_response(status, &text, None)?;
            Ok(Body::from_static(b"no body allowed"))
        }
    }
}
