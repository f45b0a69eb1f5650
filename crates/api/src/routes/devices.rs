use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::auth::{SignedInUser, TenantCaller};
use crate::body::{JsonBody, PathParam};
use crate::dto::{
    trust_name, BindDeviceRequest, BoundDeviceResponse, DeviceList, DeviceSignInRequest,
    SignInResponse,
};
use crate::problem::Problem;

/// Binds the signed-in user's device; the credential is returned once.
#[utoipa::path(post, path = "/v1/devices", request_body = BindDeviceRequest, security(("api_key" = [], "access_token" = [])),
    responses((status = 201, body = BoundDeviceResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn bind(
    State(authkit): State<crate::State>,
    user: SignedInUser,
    JsonBody(body): JsonBody<BindDeviceRequest>,
) -> Result<(StatusCode, Json<BoundDeviceResponse>), Problem> {
    let bound = authkit
        .bind_device(
            user.caller.caller(),
            &user.claims,
            body.fingerprint.into(),
            body.name,
            body.trusted,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BoundDeviceResponse {
            device_id: bound.device.id.to_string(),
            credential: bound.credential.reveal(),
            trust: trust_name(bound.device.trust),
            created_at: bound.device.created_at.0,
        }),
    ))
}

/// The signed-in user's devices, revoked ones included. Never secrets.
#[utoipa::path(get, path = "/v1/devices", security(("api_key" = [], "access_token" = [])),
    responses((status = 200, body = DeviceList), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(
    State(authkit): State<crate::State>,
    user: SignedInUser,
) -> Result<Json<DeviceList>, Problem> {
    let devices = authkit
        .list_devices(user.caller.caller(), &user.claims)
        .await?;
    Ok(Json(DeviceList {
        devices: devices.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes one of the signed-in user's devices.
#[utoipa::path(delete, path = "/v1/devices/{id}", security(("api_key" = [], "access_token" = [])), params(("id" = String, Path, description = "device id")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke(
    State(authkit): State<crate::State>,
    user: SignedInUser,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, Problem> {
    authkit
        .revoke_device(user.caller.caller(), &user.claims, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs in with a trusted device's credential instead of a code.
#[utoipa::path(post, path = "/v1/auth/device", request_body = DeviceSignInRequest, security(("api_key" = [])),
    responses((status = 200, body = SignInResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn sign_in(
    State(authkit): State<crate::State>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<DeviceSignInRequest>,
) -> Result<Json<SignInResponse>, Problem> {
    let fingerprint = body.fingerprint.into();
    Ok(Json(
        authkit
            .sign_in_with_device(caller.caller(), &body.credential, &fingerprint)
            .await?
            .into(),
    ))
}
