package oidc

import (
	"context"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The op.Storage methods below belong to op's own user flows (authorize
// callback, code and refresh grants, userinfo, introspection, revocation,
// end_session, the JWT profile grant). Provider serves those endpoints with
// its own handlers (authorize.go, token.go, userinfo.go, revoke.go,
// logout.go) and hands op only client_credentials, so none is reachable;
// each fails with ErrNotImplemented rather than pretending to succeed.

func notImplemented(method string) error {
	return fmt.Errorf("%w: %s", ErrNotImplemented, method)
}

func (s *storage) CreateAuthRequest(context.Context, *oidc.AuthRequest, string) (op.AuthRequest, error) {
	return nil, notImplemented("CreateAuthRequest")
}

func (s *storage) AuthRequestByID(context.Context, string) (op.AuthRequest, error) {
	return nil, notImplemented("AuthRequestByID")
}

func (s *storage) AuthRequestByCode(context.Context, string) (op.AuthRequest, error) {
	return nil, notImplemented("AuthRequestByCode")
}

func (s *storage) SaveAuthCode(context.Context, string, string) error {
	return notImplemented("SaveAuthCode")
}

func (s *storage) DeleteAuthRequest(context.Context, string) error {
	return notImplemented("DeleteAuthRequest")
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, notImplemented("CreateAccessAndRefreshTokens")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, notImplemented("TokenRequestByRefreshToken")
}

func (s *storage) TerminateSession(context.Context, string, string) error {
	return notImplemented("TerminateSession")
}

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrServerError().WithDescription("token revocation is not implemented yet").WithParent(notImplemented("RevokeToken"))
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", notImplemented("GetRefreshTokenInfo")
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return notImplemented("SetUserinfoFromScopes")
}

func (s *storage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return notImplemented("SetUserinfoFromToken")
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return notImplemented("SetIntrospectionFromToken")
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, notImplemented("GetKeyByIDAndClientID (private_key_jwt / JWT profile)")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, notImplemented("ValidateJWTProfileScopes (JWT profile grant)")
}
