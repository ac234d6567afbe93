//! The reusable half of the `wsgi_routing` example: a small application that routes on
//! `PATH_INFO` with `wsgiref.util.shift_path_info` and reads a form POST from `wsgi.input`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | an HTML page with a form |
//! | `GET /hello/NAME` | `Hello, NAME!` (two `shift_path_info` calls) |
//! | `POST /greet` (`application/x-www-form-urlencoded`, `name=...`) | `Hello, NAME!` |
//! | anything else | `404 Not Found`, or `405 Method Not Allowed` with `Allow` |
//!
//! The Python this mirrors:
//!
//! ```python
//! def router(environ, start_response):
//!     first = shift_path_info(environ)
//!     if first == 'hello':
//!         name = shift_path_info(environ) or 'world'
//!     ...
//!     length = int(environ.get('CONTENT_LENGTH') or 0)
//!     form = parse_qsl(environ['wsgi.input'].read(length).decode())
//! ```

use gateway::util::shift_path_info;
use gateway::{Body, Environ, Result, StartResponse};

/// The largest form body the application reads, in bytes.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The media type of an HTML form's body.
pub const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";

const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>wsgi_routing</title></head><body>\n\
<h1>wsgi_routing</h1>\n<p><a href=\"/hello/world\">/hello/world</a></p>\n\
<form method=\"post\" action=\"/greet\"><input name=\"name\" value=\"Ada\">\
<button>Greet</button></form>\n</body></html>\n";

/// The application: routes on `PATH_INFO` (see the [module docs](self)).
///
/// ```
/// use examples::wsgi_routing::router;
/// let client = gateway::testing::Client::new(router);
/// assert_eq!(client.get("/hello/Ada").text(), "Hello, Ada!\n");
/// assert_eq!(client.get("/nowhere").status(), "404 Not Found");
/// ```
pub fn router(environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
    // `shift_path_info` moves segments from PATH_INFO to SCRIPT_NAME: route on a copy, so
    // each handler sees the environ as it was shifted for it (the input stream is shared).
    let mut env = environ.clone();
    let method = environ.get("REQUEST_METHOD").unwrap_or("GET");
    match shift_path_info(&mut env).as_deref() {
        None | Some("") => match method {
            "GET" | "HEAD" => reply(start_response, "200 OK", "text/html; charset=utf-8", INDEX),
            _ => not_allowed(start_response, "GET, HEAD"),
        },
        Some("hello") => match method {
            "GET" | "HEAD" => {
                let name = shift_path_info(&mut env).filter(|n| !n.is_empty());
                let name = name.as_deref().unwrap_or("world");
                greet(start_response, name)
            }
            _ => not_allowed(start_response, "GET, HEAD"),
        },
        Some("greet") => match method {
            "POST" => match read_form(environ) {
                Ok(form) => {
                    let name = form
                        .iter()
                        .find(|(k, _)| k == "name")
                        .map_or("world", |(_, v)| v.as_str());
                    greet(start_response, name)
                }
                Err(status) => reply(start_response, status, "text/plain", status),
            },
            _ => not_allowed(start_response, "POST"),
        },
        Some(_) => reply(start_response, "404 Not Found", "text/plain", "Not Found\n"),
    }
}

fn greet(start_response: &mut dyn StartResponse, name: &str) -> Result<Body> {
    // The name came from the client: escape it, even in text/plain, in case a browser
    // sniffs the page as HTML.
    let body = format!("Hello, {}!\n", html_escape(name));
    reply(start_response, "200 OK", "text/plain; charset=utf-8", &body)
}

fn not_allowed(start_response: &mut dyn StartResponse, allow: &str) -> Result<Body> {
    start_response.start_response(
        "405 Method Not Allowed",
        &[("Content-Type", "text/plain"), ("Allow", allow)],
        None,
    )?;
    Ok(Body::from("Method Not Allowed\n"))
}

/// Starts the response with one `Content-Type` and returns `body` as its only chunk (so the
/// handler adds `Content-Length`).
pub fn reply(
    start_response: &mut dyn StartResponse,
    status: &str,
    content_type: &str,
    body: &str,
) -> Result<Body> {
    start_response.start_response(status, &[("Content-Type", content_type)], None)?;
    Ok(Body::from(body.to_owned()))
}

/// Reads an `application/x-www-form-urlencoded` body from `wsgi.input`: `CONTENT_LENGTH`
/// bytes, parsed by [`parse_qsl`]. The error is the status line to answer with (`415` for
/// another media type, `400` for a bad length, `413` past [`MAX_FORM_BYTES`]).
///
/// ```
/// use gateway::{Environ, InputStream};
/// let mut env = Environ::from_vars([
///     ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
///     ("CONTENT_LENGTH", "15"),
/// ]);
/// env.set_input(InputStream::new(std::io::Cursor::new(b"name=Ada&x=1+2".to_vec())));
/// let form = examples::wsgi_routing::read_form(&env).unwrap();
/// assert_eq!(form, [("name".into(), "Ada".into()), ("x".into(), "1 2".into())]);
/// ```
pub fn read_form(environ: &Environ) -> std::result::Result<Vec<(String, String)>, &'static str> {
    let media_type = environ
        .get("CONTENT_TYPE")
        .and_then(|t| t.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !media_type.eq_ignore_ascii_case(FORM_URLENCODED) {
        return Err("415 Unsupported Media Type");
    }
    // Python: int(environ.get('CONTENT_LENGTH') or 0)
    let length = match environ.get("CONTENT_LENGTH").unwrap_or("").trim() {
        "" => 0,
        n => n.parse::<usize>().map_err(|_| "400 Bad Request")?,
    };
    if length > MAX_FORM_BYTES {
        return Err("413 Content Too Large");
    }
    // Python: environ['wsgi.input'].read(length)
    let body = environ
        .input()
        .read_size(length)
        .map_err(|_| "400 Bad Request")?;
    Ok(parse_qsl(&body))
}

/// Python: `urllib.parse.parse_qsl(qs, keep_blank_values=True)`: `&`-separated `name=value`
/// pairs, `+` as a space, `%XX` escapes decoded as UTF-8 (invalid sequences replaced).
///
/// ```
/// let pairs = examples::wsgi_routing::parse_qsl(b"a=1&b=caf%C3%A9&empty=&c");
/// assert_eq!(pairs[1], ("b".to_owned(), "café".to_owned()));
/// assert_eq!(pairs[2], ("empty".to_owned(), String::new()));
/// assert_eq!(pairs[3], ("c".to_owned(), String::new()));
/// ```
pub fn parse_qsl(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (unquote_plus(k), unquote_plus(v))
        })
        .collect()
}

/// Python: `urllib.parse.unquote_plus`: `+` is a space, `%XX` a byte (an invalid escape
/// stays as it is), and the bytes are decoded as UTF-8 (invalid sequences replaced).
fn unquote_plus(s: &[u8]) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| s.get(at).and_then(|b| hex(*b));
                match (digit(i + 1), digit(i + 2)) {
                    (Some(h), Some(l)) => {
                        // Two hex digits: at most 0xff.
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python: `html.escape(s)`.
///
/// ```
/// assert_eq!(examples::wsgi_routing::html_escape("<a href='x'>&"), "&lt;a href=&#x27;x&#x27;&gt;&amp;");
/// ```
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}
