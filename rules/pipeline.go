package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// RuleRun records what one rule did in a pipeline.
type RuleRun struct {
	RuleID   string
	RuleName string
	Duration time.Duration
	// Logs are the rule's log lines, secrets redacted.
	Logs []string
	// Result is the rule's decoded commands, before claim filtering.
	Result *Result
	// DroppedClaims are claim names the filter removed (restricted or not
	// namespaced), for rule authors testing their rule.
	DroppedClaims []string
}

// Denial is a rule's refusal.
type Denial struct {
	RuleID   string
	RuleName string
	Reason   string
}

// LinkRequest is a rule's reserved link_to command.
type LinkRequest struct {
	RuleID string
	UserID string
}

// PipelineResult is the outcome of a login's rules. Nothing has been
// applied: the caller writes AppMetadata/UserMetadata in one transaction
// when Deny is nil, and adds the claims to the tokens it signs.
type PipelineResult struct {
	// Deny is set when a rule denied the login; the claims and metadata
	// updates are then empty (nothing persists on deny).
	Deny *Denial
	// IDTokenClaims and AccessTokenClaims are filtered custom claims, later
	// rules overriding earlier ones. Use AccessTokenClaimsFor when issuing.
	IDTokenClaims     map[string]any
	AccessTokenClaims map[string]any
	// AppMetadata and UserMetadata are top-level key updates; a nil value
	// deletes the key.
	AppMetadata  map[string]any
	UserMetadata map[string]any
	LinkTo       *LinkRequest
	// Roles is the user's role set after the rules' roles commands, nil
	// when no rule changed it. It holds for this login only.
	Roles []string
	// RolesChange is the net effect of the rules' roles commands (nil when
	// no rule changed roles): applied to a role set S it gives
	// (S ∪ Add) \ Remove. Callers that end up issuing for another user than
	// the event's (a link_to) apply it to that user's own roles.
	RolesChange *RolesChange
	// RequireMFA is set when any rule asked for a second factor
	// (require_mfa). Like the other commands it is only reported: the
	// caller decides whether the login already satisfies it.
	RequireMFA bool
	// User is the event's user with the metadata updates applied.
	User     User
	Runs     []RuleRun
	Duration time.Duration
}

// AccessTokenClaimsFor returns the access-token claims for a token issued to
// audience; nil for the protected audiences (the management API).
func (r *PipelineResult) AccessTokenClaimsFor(audience string, protected ...string) map[string]any {
	return ClaimsForAudience(r.AccessTokenClaims, audience, protected...)
}

// RunPipeline runs rules in order on event. Each rule sees the metadata
// updates of the rules before it; a deny stops the pipeline. A rule that
// fails or exceeds a limit stops it with a *RuleError (errors.Is
// ErrRuleFailed) naming the rule; the result then holds the runs so far.
func (e *Engine) RunPipeline(ctx context.Context, rules []RuleVersion, event Event) (PipelineResult, error) {
	start := time.Now()
	event.normalize()
	if event.Now.IsZero() {
		event.Now = e.cfg.Now()
	}
	// Own copies of the metadata maps: updates are applied to them.
	event.User.AppMetadata = maps.Clone(event.User.AppMetadata)
	event.User.UserMetadata = maps.Clone(event.User.UserMetadata)
	res := PipelineResult{
		IDTokenClaims:     map[string]any{},
		AccessTokenClaims: map[string]any{},
		AppMetadata:       map[string]any{},
		UserMetadata:      map[string]any{},
	}
	lastClaims := -1
	for i := range rules {
		rv := &rules[i]
		run, err := e.runOne(ctx, rv, &event, &res)
		res.Runs = append(res.Runs, run)
		if err != nil {
			res.User, res.Duration = event.User, time.Since(start)
			return res, &RuleError{RuleID: rv.ID, RuleName: rv.Name, Err: err, Logs: run.Logs, Duration: run.Duration}
		}
		if len(run.Result.IDTokenClaims)+len(run.Result.AccessTokenClaims) > 0 {
			lastClaims = i
		}
		if res.Deny != nil {
			break
		}
	}
	res.User, res.Duration = event.User, time.Since(start)
	if res.Deny != nil {
		res.IDTokenClaims, res.AccessTokenClaims = map[string]any{}, map[string]any{}
		res.AppMetadata, res.UserMetadata, res.LinkTo, res.Roles, res.RolesChange = map[string]any{}, map[string]any{}, nil, nil, nil
		res.RequireMFA = false // a deny wins: there is no login to strengthen
		return res, nil
	}
	if lastClaims >= 0 {
		if err := checkClaimsSize(res.IDTokenClaims, res.AccessTokenClaims); err != nil {
			rv := &rules[lastClaims]
			return res, &RuleError{RuleID: rv.ID, RuleName: rv.Name, Err: err}
		}
	}
	return res, nil
}

// runOne runs one rule on the current event and folds its commands into res.
func (e *Engine) runOne(ctx context.Context, rv *RuleVersion, event *Event, res *PipelineResult) (RuleRun, error) {
	run := RuleRun{RuleID: rv.ID, RuleName: rv.Name}
	event.Rule = RuleInfo{ID: rv.ID, Name: rv.Name}
	event.Secrets = rv.Secrets
	if event.Secrets == nil {
		event.Secrets = map[string]string{}
	}
	payload, err := json.Marshal(event)
	if err != nil {
		return run, fmt.Errorf("encode event: %w", err)
	}
	inv, err := e.Invoke(ctx, rv, payload)
	run.Logs, run.Duration = inv.Logs, inv.Duration
	if err != nil {
		return run, err
	}
	r, err := decodeResult(inv.Output)
	if err != nil {
		return run, err
	}
	run.Result = r
	st := &callState{secrets: rv.Secrets}
	if r.Error != nil {
		return run, fmt.Errorf("%w: %s", ErrRuleReported, st.redact(r.Error.Message))
	}
	if err := validateMetadataKeys("app_metadata", r.AppMetadata); err != nil {
		return run, err
	}
	if err := validateMetadataKeys("user_metadata", r.UserMetadata); err != nil {
		return run, err
	}
	if r.Deny != nil {
		reason := st.redact(r.Deny.Reason)
		if len(reason) > MaxDenyReason {
			reason = reason[:MaxDenyReason]
		}
		res.Deny = &Denial{RuleID: rv.ID, RuleName: rv.Name, Reason: reason}
		return run, nil
	}
	run.DroppedClaims = append(filterClaims(res.IDTokenClaims, r.IDTokenClaims),
		filterClaims(res.AccessTokenClaims, r.AccessTokenClaims)...)
	applyMetadata(event.User.AppMetadata, res.AppMetadata, r.AppMetadata)
	applyMetadata(event.User.UserMetadata, res.UserMetadata, r.UserMetadata)
	if r.LinkTo != nil {
		res.LinkTo = &LinkRequest{RuleID: rv.ID, UserID: r.LinkTo.UserID}
	}
	if r.RequireMFA {
		res.RequireMFA = true
	}
	if r.Roles != nil {
		// Later rules see the changed list (event.authorization.roles).
		event.Authorization.Roles = changeRoles(event.Authorization.Roles, r.Roles)
		res.Roles = slices.Clone(event.Authorization.Roles)
		res.RolesChange = composeRoles(res.RolesChange, r.Roles)
	}
	return run, nil
}

// changeRoles applies a roles command: adds first, then removes, keeping the
// list sorted and without duplicates.
func changeRoles(roles []string, c *RolesChange) []string {
	out := slices.Clone(roles)
	for _, n := range c.Add {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	out = slices.DeleteFunc(out, func(n string) bool { return slices.Contains(c.Remove, n) })
	slices.Sort(out)
	return append([]string{}, out...)
}

// composeRoles returns the net change of applying net, then c. Add and
// Remove of the result are disjoint and sorted.
func composeRoles(net, c *RolesChange) *RolesChange {
	var add, remove []string
	if net != nil {
		add, remove = slices.Clone(net.Add), slices.Clone(net.Remove)
	}
	for _, n := range c.Add {
		if !slices.Contains(add, n) {
			add = append(add, n)
		}
	}
	remove = slices.DeleteFunc(remove, func(n string) bool { return slices.Contains(c.Add, n) })
	for _, n := range c.Remove {
		if !slices.Contains(remove, n) {
			remove = append(remove, n)
		}
	}
	add = slices.DeleteFunc(add, func(n string) bool { return slices.Contains(c.Remove, n) })
	slices.Sort(add)
	slices.Sort(remove)
	return &RolesChange{Add: add, Remove: remove}
}

// Apply returns roles changed by c, sorted and without duplicates.
func (c *RolesChange) Apply(roles []string) []string { return changeRoles(roles, c) }

func checkClaimsSize(id, access map[string]any) error {
	a, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	b, err := json.Marshal(access)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	if n := len(a) + len(b); n > MaxClaimsSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrClaimsTooLarge, n, MaxClaimsSize)
	}
	return nil
}
