//! HTTP handlers, one file per resource, named verb_noun. Each handler
//! parses its input into domain types, calls one function of
//! [`crate::service`] and shapes the answer; its `#[utoipa::path]` is its
//! entry in the OpenAPI document. Route modules never import each other.

pub mod admin;
pub mod auth;
pub mod direct;
pub mod events;
pub mod fallback;
pub mod health;
pub mod messages;
pub mod read_state;
pub mod rooms;
pub mod users;
pub mod web;
pub mod webhooks;

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::message::Sent;

/// Registers every `/api/v1` handler. Order matters where paths overlap:
/// `/users/me` and `/users/online` come before `/users/{username}`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::register)
        .service(auth::login)
        .service(auth::logout)
        .service(users::get_me)
        .service(users::list_online_users)
        .service(rooms::list_my_rooms)
        .service(users::get_user)
        .service(rooms::create_room)
        .service(rooms::list_rooms)
        .service(rooms::get_room)
        .service(rooms::join_room)
        .service(rooms::leave_room)
        .service(rooms::list_members)
        .service(rooms::get_room_stats)
        .service(webhooks::create_webhook)
        .service(webhooks::list_webhooks)
        .service(webhooks::get_webhook)
        .service(webhooks::delete_webhook)
        .service(messages::send_room_message)
        .service(messages::list_room_messages)
        .service(messages::edit_room_message)
        .service(messages::delete_room_message)
        .service(read_state::mark_room_read)
        .service(read_state::send_room_typing)
        .service(direct::send_direct_message)
        .service(direct::list_direct_messages)
        .service(direct::edit_direct_message)
        .service(direct::delete_direct_message)
        .service(read_state::mark_conversation_read)
        .service(read_state::send_direct_typing)
        .service(direct::list_conversations)
        .service(events::create_ticket)
        .service(events::open_events)
        .service(admin::send_notification);
}

/// The answer to a send: 201 with a new message, 200 with the original of
/// a repeated `client_id`.
fn created_or_repeated<M: Serialize>(sent: Sent<M>) -> HttpResponse {
    match sent {
        Sent::New(message) => HttpResponse::Created().json(message),
        Sent::Repeat(message) => HttpResponse::Ok().json(message),
    }
}
