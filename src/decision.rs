//! What the engine tells a host to do next, and the continuations the host hands back.
//!
//! Every variant is a whole instruction: respond with this, forward to that, read these keys
//! and resume, stream or sum this stored object, store this upload. The host converts and does
//! IO; every status, header and body comes from here.

use std::sync::Arc;

use crate::key::StoreKey;
use crate::mac::Mac;
use crate::object::{Conditions, ObjectMeta, Ranged, StreamAnswer};
use crate::pipeline::Job;
use crate::response::{conditional, Lookup, Response};
use crate::route::Route;

/// What the host should do next.
#[derive(Debug)]
#[must_use = "a decision is what the host must do next; dropping it drops the request"]
pub enum Decision {
    /// Answer the client with this response.
    Respond(Response),
    /// Pass the request on with a new target.
    Rewrite(Rewrite),
    /// Read these store keys, then resume.
    Fetch(Fetch),
    /// Store the request body (a phone's upload) under a key, then finish.
    Upload(Upload),
    /// Serve a stored file as it is (firmware, tones, images): the host streams it from the
    /// store, with `Range` support where it can, instead of handing it through the engine.
    Stream(Stream),
    /// Answer with the MD5 of a stored file (an Algo `.md5` of firmware or tones): the host
    /// reads the file in pieces through [`Checksum::hasher`], never whole, and may keep the
    /// digest per file version.
    Checksum(Checksum),
}

/// A paused request, waiting for store reads. Consumed by [`Fetch::resume`], so it cannot be
/// resumed twice.
#[derive(Debug)]
pub struct Fetch {
    /// The keys as the host reads them (in the tenant's namespace); empty for the default
    /// tenant, whose keys are `plain` as they are.
    pub(crate) keys: Vec<StoreKey>,
    /// The same keys as the job knows them (namespace-free), in the same order.
    pub(crate) plain: Vec<StoreKey>,
    /// Boxed: a paused job is large, and a `Decision` travels by value through every host.
    pub(crate) job: Box<Job>,
}

impl Decision {
    /// The tenant the request was admitted to (`None`: the default tenant, or a refusal before
    /// a tenant was chosen).
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Decision::Respond(r) => r.tenant.as_deref(),
            Decision::Rewrite(r) => r.tenant.as_deref(),
            Decision::Fetch(f) => f.job.access().tenant.as_deref(),
            Decision::Upload(u) => u.tenant(),
            Decision::Stream(s) => s.tenant(),
            Decision::Checksum(c) => c.tenant(),
        }
    }

    /// The recognised request the decision is about, if the request was recognised.
    pub fn route(&self) -> Option<&Route> {
        match self {
            Decision::Respond(_) => None,
            Decision::Rewrite(r) => r.route.as_ref(),
            Decision::Fetch(f) => Some(f.job.route()),
            Decision::Upload(u) => Some(&u.route),
            Decision::Stream(s) => Some(&s.route),
            Decision::Checksum(c) => Some(&c.route),
        }
    }

    /// Gives every part of the decision the tenant it was made for.
    pub(crate) fn for_tenant(mut self, tenant: Option<&Arc<str>>) -> Decision {
        let tenant = tenant.cloned();
        match &mut self {
            Decision::Respond(r) => r.tenant = tenant,
            Decision::Rewrite(r) => r.tenant = tenant,
            Decision::Fetch(_) => {}
            Decision::Upload(u) => u.tenant = tenant,
            Decision::Stream(s) => s.tenant = tenant,
            Decision::Checksum(c) => c.tenant = tenant,
        }
        self
    }
}

/// A stored file to be streamed to the client unchanged.
#[derive(Debug)]
pub struct Stream {
    pub(crate) key: StoreKey,
    pub(crate) content_type: &'static str,
    pub(crate) route: Route,
    pub(crate) device: Option<Mac>,
    pub(crate) conditions: Conditions,
    pub(crate) tenant: Option<Arc<str>>,
}

impl Stream {
    /// The tenant the request was admitted to (`None`: the default tenant).
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The device the engine knows this is for (its record admitted the request), if any.
    pub fn device(&self) -> Option<Mac> {
        self.device
    }

    /// The store key of the file.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The media type to serve it with.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The recognised request.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// What to send, given what the host found out about the stored object (`Ok(None)`: there
    /// is none; `Err`: the store failed, the reason is for the log): 200 or 206 with the bytes
    /// to send, or 304, 404, 416, 503. Every header is the core's: `etag`, `last-modified`,
    /// `content-type`, `accept-ranges`, `content-range`, `content-length`, and
    /// `cache-control: private, no-store` for a device's own file.
    pub fn answer(&self, meta: Result<Option<ObjectMeta>, String>) -> StreamAnswer {
        match self.untagged_answer(meta) {
            StreamAnswer::Respond(resp) => StreamAnswer::Respond(Response {
                tenant: self.tenant.clone(),
                ..resp
            }),
            send => send,
        }
    }

    fn untagged_answer(&self, meta: Result<Option<ObjectMeta>, String>) -> StreamAnswer {
        let meta = match meta {
            Ok(Some(meta)) => meta,
            Ok(None) => {
                return StreamAnswer::Respond(Response::text(
                    404,
                    &format!("no {}", self.route.file()),
                ))
            }
            Err(reason) => {
                return StreamAnswer::Respond(Response::fault(
                    503,
                    format!("store read of {} failed: {reason}", self.key),
                ))
            }
        };
        let mut headers = vec![("etag".to_owned(), meta.etag.clone())];
        if let Some(date) = meta.last_modified() {
            headers.push(("last-modified".into(), date));
        }
        if self.route.scope() == crate::Scope::Device {
            headers.push(("cache-control".into(), "private, no-store".into()));
        }
        if self.conditions.unchanged(&meta) {
            return StreamAnswer::Respond(Response {
                status: 304,
                headers,
                device: self.device,
                ..Response::empty()
            });
        }
        headers.push(("content-type".into(), self.content_type.into()));
        headers.push(("accept-ranges".into(), "bytes".into()));
        let (status, start, len) = match self.conditions.range_of(&meta) {
            Ranged::Full => (200, 0, meta.len),
            Ranged::Part { start, end } => {
                headers.push((
                    "content-range".into(),
                    format!("bytes {start}-{end}/{}", meta.len),
                ));
                (206, start, end - start + 1)
            }
            Ranged::Unsatisfiable => {
                headers.push(("content-range".into(), format!("bytes */{}", meta.len)));
                return StreamAnswer::Respond(Response {
                    status: 416,
                    headers,
                    ..Response::empty()
                });
            }
        };
        headers.push(("content-length".into(), len.to_string()));
        StreamAnswer::Send {
            status,
            headers,
            start,
            len,
            send_body: !self.conditions.head,
            device: self.device,
        }
    }

    /// The whole response for hosts that hold the object whole (the CLI, tests, small KV
    /// values): [`Stream::answer`] applied to the bytes, with the bytes it says to send.
    pub fn respond(&self, lookup: Lookup) -> Response {
        let bytes = match lookup {
            Lookup::Found(bytes) => bytes,
            Lookup::Missing => return self.answer_or_response(Ok(None)),
            Lookup::Failed(reason) => return self.answer_or_response(Err(reason)),
        };
        match self.answer(Ok(Some(ObjectMeta::of_blob(&bytes)))) {
            StreamAnswer::Respond(resp) => resp,
            StreamAnswer::Send {
                status,
                mut headers,
                start,
                len,
                device,
                ..
            } => {
                // The body's own length is the content length: hosts set it from the body.
                headers.retain(|(name, _)| name != "content-length");
                let (start, end) = (start as usize, (start + len) as usize);
                Response {
                    status,
                    headers,
                    body: bytes.get(start..end).unwrap_or_default().to_vec(),
                    device,
                    note: None,
                    tenant: self.tenant.clone(),
                }
            }
        }
    }

    fn answer_or_response(&self, meta: Result<Option<ObjectMeta>, String>) -> Response {
        match self.answer(meta) {
            StreamAnswer::Respond(resp) => resp,
            StreamAnswer::Send { .. } => Response::fault(500, "no object to send".into()),
        }
    }
}

/// The checksum of a stored file, to be computed by the host as it reads the file.
#[derive(Debug)]
pub struct Checksum {
    pub(crate) key: StoreKey,
    pub(crate) route: Route,
    pub(crate) if_none_match: Option<String>,
    pub(crate) tenant: Option<Arc<str>>,
}

/// MD5 over a file read in pieces; the core's, so every host sums alike.
#[derive(Clone, Debug, Default)]
pub struct Md5Hasher(md5::Md5);

impl Md5Hasher {
    pub fn update(&mut self, piece: &[u8]) {
        md5::Digest::update(&mut self.0, piece);
    }

    pub fn finish(self) -> [u8; 16] {
        md5::Digest::finalize(self.0).into()
    }
}

/// What the host found when it summed a stored file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Summed {
    Found([u8; 16]),
    Missing,
    /// The store could not answer. The reason goes to the log, not the client.
    Failed(String),
}

impl Checksum {
    /// The tenant the request was admitted to (`None`: the default tenant).
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The store key of the file to sum (in the tenant's namespace).
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The recognised request (the `.md5`).
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// A fresh hasher to feed the file through.
    pub fn hasher(&self) -> Md5Hasher {
        Md5Hasher::default()
    }

    /// The response: the 32 lower-case hex digits (a 304 when the client holds them), 404
    /// when the file is missing, a clean 503 when the store failed.
    pub fn respond(&self, summed: Summed) -> Response {
        Response {
            tenant: self.tenant.clone(),
            ..self.untagged(summed)
        }
    }

    fn untagged(&self, summed: Summed) -> Response {
        match summed {
            Summed::Found(digest) => {
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                let resp = Response::ok(hex.into_bytes(), "text/plain; charset=utf-8");
                conditional(resp, self.if_none_match.as_deref())
            }
            Summed::Missing => Response::text(404, &format!("no {}", self.route.file())),
            Summed::Failed(reason) => {
                Response::fault(503, format!("store read of {} failed: {reason}", self.key))
            }
        }
    }

    /// The response for hosts that read the file whole (tests, the CLI).
    pub fn respond_whole(&self, lookup: Lookup) -> Response {
        self.respond(match lookup {
            Lookup::Found(bytes) => {
                let mut hasher = self.hasher();
                hasher.update(&bytes);
                Summed::Found(hasher.finish())
            }
            Lookup::Missing => Summed::Missing,
            Lookup::Failed(reason) => Summed::Failed(reason),
        })
    }
}

/// What became of an upload the host was asked to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Stored; `replaced` when an earlier upload under the same key was overwritten.
    Done { replaced: bool },
    /// The body was longer than [`Upload::max_bytes`]; nothing was stored.
    TooLarge,
    /// The store could not take it. The reason goes to the log, not the client.
    Failed(String),
    /// The store's quota for uploads is used up; nothing was stored. The reason goes to the
    /// log.
    Full(String),
}

/// A phone's upload (Polycom logs and overrides, Yealink `-local.cfg`, …) to be stored as bytes
/// under [`Upload::key`], in the `uploads/` namespace: never executed, and served back only to
/// the same device, and only for the override names of `uploads.serve_back`.
#[derive(Debug)]
pub struct Upload {
    pub(crate) key: StoreKey,
    pub(crate) max_bytes: usize,
    pub(crate) route: Route,
    pub(crate) device: Option<Mac>,
    pub(crate) tenant: Option<Arc<str>>,
}

impl Upload {
    /// The tenant the request was admitted to (`None`: the default tenant).
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The device the upload belongs to: known by its record or proven by a certificate.
    pub fn device(&self) -> Option<Mac> {
        self.device
    }

    /// Where to store the body.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The most bytes to accept; a longer body is [`Stored::TooLarge`].
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The recognised request.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The response once the host has stored (or failed to store) the body.
    pub fn finish(self, outcome: Stored) -> Response {
        let tenant = self.tenant.clone();
        Response {
            tenant,
            ..self.outcome(outcome)
        }
    }

    fn outcome(self, outcome: Stored) -> Response {
        match outcome {
            Stored::Done { replaced: false } => Response {
                status: 201,
                device: self.device,
                ..Response::empty()
            },
            Stored::Done { replaced: true } => Response {
                status: 204,
                device: self.device,
                ..Response::empty()
            },
            Stored::TooLarge => Response::text(
                413,
                &format!("uploads are limited to {} bytes", self.max_bytes),
            ),
            Stored::Failed(reason) => {
                Response::fault(503, format!("storing {} failed: {reason}", self.key))
            }
            Stored::Full(reason) => {
                let mut resp = Response::text(507, "insufficient storage");
                resp.note = Some(format!("storing {} refused: {reason}", self.key));
                resp
            }
        }
    }
}

/// A new request target for the host to forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// Path (and query) to forward to.
    pub target: String,
    /// The route it was made for, for logs and metrics (none in nginx-rules mode, which does
    /// not recognise requests, it rewrites them).
    pub route: Option<Route>,
    /// The tenant the request was admitted to.
    pub tenant: Option<Arc<str>>,
}
