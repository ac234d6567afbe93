//! The reusable half of the `user_app` example: a user's own small application, a notes
//! service, with its unit tests written against `gateway::testing::Client` (below, and in
//! `examples/tests/user_app.rs`).
//!
//! | request | answer |
//! |---|---|
//! | `GET /notes` | every note, one `ID: text` line each (`text/plain`) |
//! | `POST /notes` (form field `text`) | `201 Created`, `Location: /notes/ID` |
//! | `GET /notes/ID` | the note's text, or `404 Not Found` |
//! | `DELETE /notes/ID` | `204 No Content`, or `404 Not Found` |
//!
//! This is how a Python user would test it with werkzeug's `Client`; here the client runs
//! the real `wsgiref` handler over in-memory streams, with the PEP 3333 validator on.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use gateway::util::shift_path_info;
use gateway::{Application, Body, Environ, Result, StartResponse};

use crate::wsgi_routing::{read_form, reply};

/// The notes service: an in-memory store of numbered notes behind a WSGI application.
///
/// ```
/// use examples::user_app::Notes;
/// use gateway::testing::Client;
/// let client = Client::new(Notes::default());
/// let created = client.request(
///     "POST",
///     "/notes",
///     &[("Content-Type", "application/x-www-form-urlencoded")],
///     "text=buy+milk",
/// );
/// assert_eq!(created.status(), "201 Created");
/// assert_eq!(client.get("/notes/1").text(), "buy milk");
/// ```
#[derive(Debug, Default)]
pub struct Notes {
    store: Mutex<Store>,
}

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    notes: BTreeMap<u64, String>,
}

impl Notes {
    /// Adds a note; returns its id (ids start at 1 and are never reused).
    pub fn add(&self, text: &str) -> u64 {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.next_id += 1;
        let id = store.next_id;
        store.notes.insert(id, text.to_owned());
        id
    }

    /// The note `id`, if it exists.
    pub fn get(&self, id: u64) -> Option<String> {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.notes.get(&id).cloned()
    }

    /// Removes the note `id`; false when there was none.
    pub fn remove(&self, id: u64) -> bool {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.notes.remove(&id).is_some()
    }

    /// Every note, by id.
    pub fn list(&self) -> Vec<(u64, String)> {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.notes.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    fn collection(&self, environ: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
        match environ.get("REQUEST_METHOD").unwrap_or("GET") {
            "GET" | "HEAD" => {
                let listing: String = self
                    .list()
                    .iter()
                    .map(|(id, text)| format!("{id}: {text}\n"))
                    .collect();
                reply(sr, "200 OK", "text/plain; charset=utf-8", &listing)
            }
            "POST" => {
                let form = match read_form(environ) {
                    Ok(form) => form,
                    Err(status) => return reply(sr, status, "text/plain", status),
                };
                let text = form
                    .into_iter()
                    .find(|(k, _)| k == "text")
                    .map(|(_, v)| v)
                    .filter(|v| !v.trim().is_empty());
                let Some(text) = text else {
                    return reply(sr, "400 Bad Request", "text/plain", "text is required\n");
                };
                let id = self.add(&text);
                let location = format!("/notes/{id}");
                sr.start_response(
                    "201 Created",
                    &[("Content-Type", "text/plain"), ("Location", &location)],
                    None,
                )?;
                Ok(Body::from(format!("{id}\n")))
            }
            _ => not_allowed(sr, "GET, HEAD, POST"),
        }
    }

    fn item(&self, id: &str, environ: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
        let Some(id) = id.parse::<u64>().ok().filter(|_| !id.starts_with('+')) else {
            return not_found(sr);
        };
        match environ.get("REQUEST_METHOD").unwrap_or("GET") {
            "GET" | "HEAD" => match self.get(id) {
                Some(text) => reply(sr, "200 OK", "text/plain; charset=utf-8", &text),
                None => not_found(sr),
            },
            "DELETE" => {
                if self.remove(id) {
                    // A 204 carries neither a body nor a Content-Type (PEP 3333's validator
                    // checks it).
                    sr.start_response("204 No Content", &[], None)?;
                    Ok(Body::from(Vec::<Vec<u8>>::new()))
                } else {
                    not_found(sr)
                }
            }
            _ => not_allowed(sr, "GET, HEAD, DELETE"),
        }
    }
}

fn not_found(sr: &mut dyn StartResponse) -> Result<Body> {
    reply(sr, "404 Not Found", "text/plain", "Not Found\n")
}

fn not_allowed(sr: &mut dyn StartResponse, allow: &str) -> Result<Body> {
    sr.start_response(
        "405 Method Not Allowed",
        &[("Content-Type", "text/plain"), ("Allow", allow)],
        None,
    )?;
    Ok(Body::from("Method Not Allowed\n"))
}

impl Application for Notes {
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
        let mut env = environ.clone();
        if shift_path_info(&mut env).as_deref() != Some("notes") {
            return not_found(start_response);
        }
        match shift_path_info(&mut env).as_deref() {
            None => self.collection(environ, start_response),
            // `/notes/` is the collection too; `/notes/1/x` is nothing.
            Some("") => self.collection(environ, start_response),
            Some(id) if env.get("PATH_INFO").unwrap_or("").is_empty() => {
                self.item(id, environ, start_response)
            }
            Some(_) => not_found(start_response),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The user's unit tests: no socket, the real handler, the validator on.

    use super::Notes;
    use gateway::testing::{Client, TestResponse};

    const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

    fn create(client: &Client<Notes>, text: &str) -> TestResponse {
        client.request("POST", "/notes", &[FORM], format!("text={text}"))
    }

    #[test]
    fn a_new_store_lists_nothing() {
        let resp = Client::new(Notes::default()).get("/notes");
        assert_eq!(resp.status(), "200 OK");
        assert_eq!(resp.body(), b"");
        assert_eq!(resp.headers().get("Content-Length"), Some("0"));
    }

    #[test]
    fn create_then_read_back() {
        let client = Client::new(Notes::default());
        let created = create(&client, "buy+milk%21");
        assert_eq!(created.status(), "201 Created");
        assert_eq!(created.headers().get("Location"), Some("/notes/1"));
        let note = client.get("/notes/1");
        assert_eq!(note.text(), "buy milk!");
        assert_eq!(
            note.headers().get("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn listing_is_ordered_by_id() {
        let client = Client::new(Notes::default());
        create(&client, "one");
        create(&client, "two");
        assert_eq!(client.get("/notes").text(), "1: one\n2: two\n");
        assert_eq!(client.get("/notes/").text(), "1: one\n2: two\n");
    }

    #[test]
    fn delete_answers_204_without_a_body_then_404() {
        let client = Client::new(Notes::default());
        create(&client, "temp");
        let gone = client.request("DELETE", "/notes/1", &[], "");
        assert_eq!(gone.status(), "204 No Content");
        assert!(gone.body().is_empty());
        assert_eq!(gone.headers().get("Content-Type"), None);
        assert_eq!(client.get("/notes/1").status(), "404 Not Found");
        assert_eq!(
            client.request("DELETE", "/notes/1", &[], "").status(),
            "404 Not Found"
        );
    }

    #[test]
    fn bad_requests() {
        let client = Client::new(Notes::default());
        // No text field, or a blank one.
        assert_eq!(create(&client, "").status(), "400 Bad Request");
        let no_field = client.request("POST", "/notes", &[FORM], "other=1");
        assert_eq!(no_field.text(), "text is required\n");
        // Not a form.
        let json = client.request(
            "POST",
            "/notes",
            &[("Content-Type", "application/json")],
            "{}",
        );
        assert_eq!(json.status(), "415 Unsupported Media Type");
        // Unknown ids and paths.
        for path in ["/notes/x", "/notes/+1", "/notes/1/more", "/", "/other"] {
            assert_eq!(client.get(path).status(), "404 Not Found", "{path}");
        }
    }

    #[test]
    fn wrong_methods_get_405_with_allow() {
        let client = Client::new(Notes::default());
        let put = client.request("PUT", "/notes", &[], "x");
        assert_eq!(put.status(), "405 Method Not Allowed");
        assert_eq!(put.headers().get("Allow"), Some("GET, HEAD, POST"));
        create(&client, "a");
        let post = client.request("POST", "/notes/1", &[FORM], "text=b");
        assert_eq!(post.headers().get("Allow"), Some("GET, HEAD, DELETE"));
    }
}
