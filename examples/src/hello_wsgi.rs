//! The reusable half of the `hello_wsgi` example: the hello-world application of the
//! `wsgiref` documentation, served by `make_server`.
//!
//! ```python
//! def hello_world_app(environ, start_response):
//!     status = '200 OK'  # HTTP Status
//!     headers = [('Content-type', 'text/plain; charset=utf-8')]  # HTTP Headers
//!     start_response(status, headers)
//!     return [b"Hello World"]
//!
//! with make_server('', 8000, hello_world_app) as httpd:
//!     httpd.serve_forever()
//! ```

use gateway::simple_server::{WsgiServer, make_server};
use gateway::{Body, Environ, Result, StartResponse};

/// The application as a function pointer, so the server's type can be named.
pub type HelloApp = fn(&Environ, &mut dyn StartResponse) -> Result<Body>;

/// Python: `hello_world_app(environ, start_response)` from the `wsgiref` docs: `Hello World`
/// as `text/plain`.
///
/// ```
/// let resp = gateway::testing::Client::new(examples::hello_wsgi::hello_world_app).get("/");
/// assert_eq!(resp.text(), "Hello World");
/// ```
pub fn hello_world_app(_environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
    let status = "200 OK";
    let headers = [("Content-type", "text/plain; charset=utf-8")];
    start_response.start_response(status, &headers, None)?;
    Ok(Body::from(b"Hello World".to_vec()))
}

/// Python: `make_server(host, port, hello_world_app)` (`""` is every interface, port 0 picks
/// a free port).
pub fn hello_server(host: &str, port: u16) -> Result<WsgiServer<HelloApp>> {
    make_server(host, port, hello_world_app as HelloApp)
}
