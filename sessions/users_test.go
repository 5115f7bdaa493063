package sessions

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
)

// ListUser lists a user's live sessions only; RevokeOwn ends one of them
// and refuses another user's, which stays live.
func TestListUserAndRevokeOwn(t *testing.T) {
	m, u, now := setup(t)
	ctx := context.Background()
	other := m.DB.User.Create().SetUserID("auth0|s2").SaveX(authz.SystemContext(ctx))
	a, b := login(t, m, u), login(t, m, u)
	theirs := login(t, m, other)
	ended := login(t, m, u)
	if _, err := m.End(ctx, httptest.NewRecorder(), withCookie(ended)); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Minute)
	sa, _ := m.Current(ctx, withCookie(a)) // the most recently seen
	list, err := m.ListUser(ctx, u.ID)
	if err != nil || len(list) != 2 || list[0].ID != sa.ID {
		t.Fatalf("ListUser: %v %v", list, err)
	}
	st, _ := m.Current(ctx, withCookie(theirs))
	if err := m.RevokeOwn(ctx, u.ID, st.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoking another user's session: %v", err)
	}
	if _, err := m.Current(ctx, withCookie(theirs)); err != nil {
		t.Fatalf("the other user's session ended: %v", err)
	}
	sb, _ := m.Current(ctx, withCookie(b))
	if err := m.RevokeOwn(ctx, u.ID, sb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Current(ctx, withCookie(b)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("a revoked session still authenticates: %v", err)
	}
	if err := m.RevokeOwn(ctx, u.ID, sb.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoking twice: %v", err)
	}
}
