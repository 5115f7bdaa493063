package pulid

import (
	"context"
	"fmt"
)

// Types maps every id prefix to the table of the entity it stands for (ent's
// Noder resolves nodes by table). Adding an entity means adding its prefix
// here.
var Types = map[string]string{
	"usr_": "users",
	"idn_": "identities",
	"con_": "connections",
	"cli_": "applications",
	"key_": "signing_keys",
	"log_": "log_events",
	"arq_": "auth_requests",
	"ses_": "sessions",
	"grt_": "grants",
	"rft_": "refresh_tokens",
	"api_": "resource_servers",
	"tkt_": "tickets",
	"att_": "login_attempts",
	"rul_": "rules",
	"adm_": "admin_grants",
	"ust_": "upstream_states",
	"rol_": "roles",
	"rpm_": "role_permissions",
	"uro_": "user_roles",
	"upm_": "user_permissions",
	"cgr_": "client_grants",
	// job_ also names verification-email jobs, which have no row (they are
	// found by their audit entry): a job id absent from jobs may be one.
	"job_": "jobs",
	"jer_": "job_errors",
	"jch_": "job_chunks",
	"mfa_": "authenticators",
	"rcv_": "recovery_codes",
	"mfs_": "mfa_states",
	"mfc_": "mfa_configs",
}

// ErrUnknownPrefix is returned for ids whose prefix names no type.
var ErrUnknownPrefix = fmt.Errorf("pulid: unknown id prefix")

// IDToType resolves the table of a node id; it backs ent.WithNodeType.
func IDToType(_ context.Context, id ID) (string, error) {
	t, ok := Types[id.Prefix()]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownPrefix, id)
	}
	return t, nil
}
