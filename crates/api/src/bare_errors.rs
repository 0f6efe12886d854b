//! The last word on error answers: any 4xx or 5xx that leaves the app without a body of its own
//! (a file server's 404 under `/docs/`, an answer some library wrote) is given the
//! problem+json body of its status, as the contract says of every error.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::error::{Code, count_error, problem};

pub async fn as_problems<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let response = next.call(req).await?;
    let status = response.status();
    let bare = (status.is_client_error() || status.is_server_error())
        && !response.headers().contains_key(header::CONTENT_TYPE);
    if !bare {
        return Ok(response.map_into_left_body());
    }
    let code = Code::for_status(status);
    count_error(code);
    let detail = status
        .canonical_reason()
        .map_or_else(|| "The request failed.".to_owned(), |r| format!("{r}."));
    let (req, bare) = response.into_parts();
    let mut answer = HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(problem(code, detail));
    // Keep what the bare answer said in its headers (Allow, Retry-After, ...).
    for (name, value) in bare.headers() {
        if name != header::CONTENT_LENGTH && !answer.headers().contains_key(name) {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(req, answer).map_into_right_body())
}
