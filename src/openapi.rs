//! The OpenAPI 3.1 document. Paths and schemas are collected from the
//! handlers by `utoipa-actix-web` (see `startup::openapi`); this adds the
//! parts no handler owns: info, the bearer scheme, tags, and the problem
//! responses shared by every endpoint. `confab openapi` prints it, and a test
//! keeps `openapi/openapi.json` equal to it.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi as Document, RefOr, ResponseBuilder, Schema, Type,
};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::error::Problem;

/// The hand-written parts of the document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "confab",
        description = "A chat API on Redis: accounts, rooms, room and direct messages with \
paginated history, and a Server-Sent Events stream with offline delivery and resume.\n\n\
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable \
`code`. Times are RFC 3339 UTC with milliseconds. Lists take `limit` (1..=100, \
default 50) and an opaque `cursor`, and return `{items, next_cursor}` newest first. \
Any request may also get 404 `not_found` (unknown route), 405 `method_not_allowed` \
(a known path with another method; `Allow` lists the methods it takes), 408 \
`request_timeout` (its body did not arrive within the server's deadline; the connection \
is closed), 413 `payload_too_large` and 503 `unavailable` (Redis unreachable, or the \
instance or the client's address at its connection cap; retry after `Retry-After` \
seconds).\n\n\
The event stream (`GET /api/v1/events`) is Server-Sent Events: each event's `data:` \
is JSON, one of the `StreamEvent` schemas, chosen by its `event:` name."
    ),
    servers(
        (url = "http://localhost:8080", description = "A local confab (`scripts/run.sh`); point clients at your deployment"),
    ),
    modifiers(&Security),
    components(schemas(
        crate::realtime::stream::Ready,
        crate::model::Message,
        crate::model::DirectMessage,
        crate::model::MemberEvent,
        crate::model::Notification,
        crate::model::TypingEvent,
        crate::model::ReadEvent,
        crate::routes::rooms::RoomOrder,
    )),
    tags(
        (name = "accounts", description = "Registration, login, logout"),
        (name = "users", description = "Profiles and presence"),
        (name = "rooms", description = "Rooms and membership"),
        (name = "messages", description = "Room and direct messages"),
        (name = "realtime", description = "The event stream (Server-Sent Events)"),
        (name = "webhooks", description = "Outgoing webhooks: a room's messages POSTed to bots and integrations"),
        (name = "admin", description = "Operator notifications (`X-Admin-Key`)"),
        (name = "operations", description = "Health probes and metrics"),
    )
)]
pub struct ApiDoc;

/// Adds the security schemes: the bearer token and the admin key. (A stream
/// ticket is a plain query parameter of `GET /api/v1/events`, not a scheme:
/// generated clients fill every scheme they hold a token for, and would put
/// the access token in the URL.)
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access_token` from `POST /api/v1/auth/login`. 401 answers carry \
                         `WWW-Authenticate: Bearer`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Admin-Key",
                "The operator key from the settings (`CONFAB_ADMIN_KEY`).",
            ))),
        );
    }
}

impl ApiDoc {
    /// The base document handlers are merged into.
    pub fn openapi_base() -> Document {
        <ApiDoc as OpenApi>::openapi()
    }

    /// Final touches after the paths are collected: the `Problem` schema is
    /// registered once; every operation documents the failures that do not
    /// depend on it (401 where it takes a bearer token, 408 and 413 where it
    /// takes a body, 503 except on the liveness probe) and the headers that
    /// come with them (`WWW-Authenticate` on 401, `Retry-After` on 429 and
    /// 503); operations open to anyone say so (`security: []`). The
    /// `StreamEvent` union is an `anyOf`: its schemas are told apart by the
    /// `event:` name, not by shape (a member event's data also fits
    /// `TypingEvent`, a `PublicUser` being a `UserLite` and more), so a
    /// `oneOf` would call that data invalid.
    pub fn finish(mut api: Document) -> Document {
        let components = api.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            Problem::name().into_owned(),
            <Problem as PartialSchema>::schema(),
        );
        if let Some(RefOr::T(Schema::OneOf(union))) = components.schemas.get_mut("StreamEvent") {
            let items = std::mem::take(&mut union.items);
            let mut any_of = items
                .into_iter()
                .fold(AnyOfBuilder::new(), AnyOfBuilder::item)
                .description(union.description.take())
                .build();
            any_of.example = union.example.take();
            components
                .schemas
                .insert("StreamEvent".into(), RefOr::T(Schema::AnyOf(any_of)));
        }
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "Problem",
                            ))))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in api.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let takes_bearer = op.security.iter().flatten().any(|requirement| {
                    serde_json::to_value(requirement).is_ok_and(|v| v.get("bearer").is_some())
                });
                if op.security.is_none() {
                    op.security = Some(Vec::new());
                }
                // Health checks are exempt from the connection caps and use no Redis.
                let may_be_unavailable = op.operation_id.as_deref() != Some("healthz");
                let responses = &mut op.responses.responses;
                if takes_bearer && !responses.contains_key("401") {
                    responses.insert("401".into(), problem("`missing_token` or `invalid_token`"));
                }
                if op.request_body.is_some() && !responses.contains_key("408") {
                    responses.insert(
                        "408".into(),
                        problem(
                            "`request_timeout`: the body did not arrive within the server's \
                             deadline; the connection is closed",
                        ),
                    );
                }
                if op.request_body.is_some() && !responses.contains_key("413") {
                    responses.insert("413".into(), problem("`payload_too_large`"));
                }
                if may_be_unavailable && !responses.contains_key("503") {
                    responses.insert(
                        "503".into(),
                        problem(
                            "`unavailable`: Redis is unreachable, or the instance or the \
                             client's address is at its connection cap (then the connection is \
                             closed)",
                        ),
                    );
                }
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(response) = response {
                        add_headers(status, response);
                    }
                }
            }
        }
        api
    }
}

/// The headers a problem answer of `status` carries.
fn add_headers(status: &str, response: &mut utoipa::openapi::Response) {
    let header = |schema_type: Type, description: &str| {
        RefOr::T(
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(schema_type)))
                .description(Some(description))
                .build(),
        )
    };
    let (name, value) = match status {
        "401" => (
            "WWW-Authenticate",
            header(
                Type::String,
                "`Bearer`, with `error=\"invalid_token\"` when a token was sent but refused",
            ),
        ),
        "429" | "503" => (
            "Retry-After",
            header(Type::Integer, "Seconds to wait before trying again"),
        ),
        _ => return,
    };
    response.headers.entry(name.into()).or_insert(value);
}
