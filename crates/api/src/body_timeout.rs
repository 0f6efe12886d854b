//! A deadline for reading the request body. actix cuts a client that is slow to send its headers
//! (`client_request_timeout`), but nothing bounds the body: a client sending one byte every two
//! seconds held its connection for ever, and twenty thousand of them used up the process's file
//! descriptors. Every request's body must now arrive within the deadline (counted from when the
//! headers were in); past it, reading fails, the handler answers 408 `request_timeout`, and the
//! connection is closed (its body was not read to the end).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage as _};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

/// The payload with a deadline. The timer is made at the first read only, so requests without a
/// body (most of them) cost no timer.
struct Deadlined<S> {
    inner: S,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> Stream for Deadlined<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(timed_out()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The error a body read fails with at the deadline; [`is_timeout`] recognises it.
fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "request body not received in time",
    ))
}

/// Whether a payload error is the body deadline's.
pub fn is_timeout(err: &PayloadError) -> bool {
    matches!(err, PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
}

/// Middleware: puts the deadline `timeout` from now on the request's body.
pub async fn limit_body_time(
    timeout: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let inner = req.take_payload();
    let deadlined = Deadlined {
        inner,
        deadline: Instant::now() + timeout,
        timer: None,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(deadlined),
    });
    next.call(req).await
}
