//! The status table: every `http.HTTPStatus` of CPython 3.11 with its phrase and description.

use std::sync::Arc;

/// Every standard status code with its reason phrase and long description, as CPython 3.11's
/// `http.HTTPStatus` has them (so `414` is `"Request-URI Too Long"`).
///
/// Python: `http.server.BaseHTTPRequestHandler.responses`.
#[doc(alias = "http.server.BaseHTTPRequestHandler.responses")]
#[doc(alias = "responses")]
pub static RESPONSES: &[(u16, &str, &str)] = &[
    (100, "Continue", "Request received, please continue"),
    (
        101,
        "Switching Protocols",
        "Switching to new protocol; obey Upgrade header",
    ),
    (102, "Processing", ""),
    (103, "Early Hints", ""),
    (200, "OK", "Request fulfilled, document follows"),
    (201, "Created", "Document created, URL follows"),
    (
        202,
        "Accepted",
        "Request accepted, processing continues off-line",
    ),
    (
        203,
        "Non-Authoritative Information",
        "Request fulfilled from cache",
    ),
    (204, "No Content", "Request fulfilled, nothing follows"),
    (205, "Reset Content", "Clear input form for further input"),
    (206, "Partial Content", "Partial content follows"),
    (207, "Multi-Status", ""),
    (208, "Already Reported", ""),
    (226, "IM Used", ""),
    (
        300,
        "Multiple Choices",
        "Object has several resources -- see URI list",
    ),
    (
        301,
        "Moved Permanently",
        "Object moved permanently -- see URI list",
    ),
    (302, "Found", "Object moved temporarily -- see URI list"),
    (303, "See Other", "Object moved -- see Method and URL list"),
    (
        304,
        "Not Modified",
        "Document has not changed since given time",
    ),
    (
        305,
        "Use Proxy",
        "You must use proxy specified in Location to access this resource",
    ),
    (
        307,
        "Temporary Redirect",
        "Object moved temporarily -- see URI list",
    ),
    (
        308,
        "Permanent Redirect",
        "Object moved permanently -- see URI list",
    ),
    (
        400,
        "Bad Request",
        "Bad request syntax or unsupported method",
    ),
    (
        401,
        "Unauthorized",
        "No permission -- see authorization schemes",
    ),
    (
        402,
        "Payment Required",
        "No payment -- see charging schemes",
    ),
    (
        403,
        "Forbidden",
        "Request forbidden -- authorization will not help",
    ),
    (404, "Not Found", "Nothing matches the given URI"),
    (
        405,
        "Method Not Allowed",
        "Specified method is invalid for this resource",
    ),
    (
        406,
        "Not Acceptable",
        "URI not available in preferred format",
    ),
    (
        407,
        "Proxy Authentication Required",
        "You must authenticate with this proxy before proceeding",
    ),
    (408, "Request Timeout", "Request timed out; try again later"),
    (409, "Conflict", "Request conflict"),
    (
        410,
        "Gone",
        "URI no longer exists and has been permanently removed",
    ),
    (411, "Length Required", "Client must specify Content-Length"),
    (
        412,
        "Precondition Failed",
        "Precondition in headers is false",
    ),
    (413, "Request Entity Too Large", "Entity is too large"),
    (414, "Request-URI Too Long", "URI is too long"),
    (
        415,
        "Unsupported Media Type",
        "Entity body in unsupported format",
    ),
    (
        416,
        "Requested Range Not Satisfiable",
        "Cannot satisfy request range",
    ),
    (
        417,
        "Expectation Failed",
        "Expect condition could not be satisfied",
    ),
    (
        418,
        "I'm a Teapot",
        "Server refuses to brew coffee because it is a teapot.",
    ),
    (
        421,
        "Misdirected Request",
        "Server is not able to produce a response",
    ),
    (422, "Unprocessable Entity", ""),
    (423, "Locked", ""),
    (424, "Failed Dependency", ""),
    (425, "Too Early", ""),
    (426, "Upgrade Required", ""),
    (
        428,
        "Precondition Required",
        "The origin server requires the request to be conditional",
    ),
    (
        429,
        "Too Many Requests",
        "The user has sent too many requests in a given amount of time (\"rate limiting\")",
    ),
    (
        431,
        "Request Header Fields Too Large",
        "The server is unwilling to process the request because its header fields are too large",
    ),
    (
        451,
        "Unavailable For Legal Reasons",
        "The server is denying access to the resource as a consequence of a legal demand",
    ),
    (500, "Internal Server Error", "Server got itself in trouble"),
    (
        501,
        "Not Implemented",
        "Server does not support this operation",
    ),
    (
        502,
        "Bad Gateway",
        "Invalid responses from another server/proxy",
    ),
    (
        503,
        "Service Unavailable",
        "The server cannot process the request due to a high load",
    ),
    (
        504,
        "Gateway Timeout",
        "The gateway server did not receive a timely response",
    ),
    (505, "HTTP Version Not Supported", "Cannot fulfill request"),
    (506, "Variant Also Negotiates", ""),
    (507, "Insufficient Storage", ""),
    (508, "Loop Detected", ""),
    (510, "Not Extended", ""),
    (
        511,
        "Network Authentication Required",
        "The client needs to authenticate to gain network access",
    ),
];

/// The `(phrase, description)` pair of a status code, `None` for codes outside the table.
///
/// Python: `BaseHTTPRequestHandler.responses[code]` (a `KeyError` becomes `None`).
///
/// ```
/// assert_eq!(http_server::responses(404), Some(("Not Found", "Nothing matches the given URI")));
/// assert_eq!(http_server::responses(599), None);
/// ```
#[doc(alias = "http.HTTPStatus")]
pub fn responses(code: u16) -> Option<(&'static str, &'static str)> {
    RESPONSES
        .binary_search_by_key(&code, |&(c, _, _)| c)
        .ok()
        .map(|i| (RESPONSES[i].1, RESPONSES[i].2))
}

/// The status table a handler uses: [`RESPONSES`] (the default) or a replacement, such as
/// the table of the CPython that embeds the server (3.13 renamed `413`, `414`, `416` and
/// `422` after RFC 9110: `"URI Too Long"`; 3.14 filled in descriptions).
///
/// Python: the class attribute `BaseHTTPRequestHandler.responses`, which a subclass may
/// replace.
///
/// ```
/// use http_server::Responses;
/// assert_eq!(Responses::default().get(414), Some(("Request-URI Too Long", "URI is too long")));
/// let newer = Responses::new([(414, "URI Too Long".to_owned(), "URI is too long".to_owned())]);
/// assert_eq!(newer.get(414), Some(("URI Too Long", "URI is too long")));
/// assert_eq!(newer.get(404), None);
/// ```
#[doc(alias = "http.server.BaseHTTPRequestHandler.responses")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Responses(Option<Arc<[(u16, String, String)]>>);

impl Responses {
    /// A table of `(code, phrase, description)`; a code given twice keeps its last entry. A
    /// table equal to [`RESPONSES`] is the default.
    pub fn new(table: impl IntoIterator<Item = (u16, String, String)>) -> Self {
        let entries: std::collections::BTreeMap<u16, (String, String)> = table
            .into_iter()
            .map(|(code, phrase, explain)| (code, (phrase, explain)))
            .collect();
        let standard = entries.len() == RESPONSES.len()
            && entries
                .iter()
                .zip(RESPONSES)
                .all(|((code, (p, e)), &(c, sp, se))| *code == c && p == sp && e == se);
        if standard {
            return Responses::default();
        }
        Responses(Some(
            entries
                .into_iter()
                .map(|(code, (phrase, explain))| (code, phrase, explain))
                .collect(),
        ))
    }

    /// The `(phrase, description)` pair of `code`, `None` for codes outside the table.
    pub fn get(&self, code: u16) -> Option<(&str, &str)> {
        match &self.0 {
            None => responses(code),
            Some(table) => table
                .binary_search_by_key(&code, |e| e.0)
                .ok()
                .map(|i| (table[i].1.as_str(), table[i].2.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_tables_are_sorted_and_keep_the_last_entry() {
        let t = Responses::new([
            (500, "A".to_owned(), "a".to_owned()),
            (200, "B".to_owned(), "b".to_owned()),
            (500, "C".to_owned(), "c".to_owned()),
        ]);
        assert_eq!(t.get(200), Some(("B", "b")));
        assert_eq!(t.get(500), Some(("C", "c")));
        assert_eq!(t.get(404), None);
        assert_eq!(Responses::default().get(404), responses(404));
        let copy = RESPONSES
            .iter()
            .map(|&(c, p, e)| (c, p.to_owned(), e.to_owned()));
        assert_eq!(Responses::new(copy), Responses::default());
    }

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(RESPONSES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(RESPONSES.len(), 62);
        assert_eq!(responses(414).unwrap().0, "Request-URI Too Long");
        assert_eq!(responses(418).unwrap().0, "I'm a Teapot");
    }
}
