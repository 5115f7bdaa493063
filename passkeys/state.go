package passkeys

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// Ceremony purposes: a state of one never finishes another.
const (
	purposeRegister = "register"
	purposeMFA      = "mfa"
	purposeLogin    = "login"
)

// maxState bounds a state handed back (a cookie holds 4 KB).
const maxState = 3000

// state is what a ceremony needs between Begin and Finish.
type state struct {
	Purpose string `json:"p"`
	Binding string `json:"b"`
	User    string `json:"u,omitempty"`
	Passkey bool   `json:"k,omitempty"`
	// Issued is when the ceremony began (Unix microseconds): an assertion
	// is accepted only if its credential was not used since.
	Issued  int64                  `json:"i"`
	Session gowebauthn.SessionData `json:"s"`
}

// stateAD binds a sealed state to its purpose and binding.
func stateAD(purpose, binding string) string {
	return "webauthn-ceremony:" + purpose + ":" + binding
}

func (s *Service) seal(st state) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.cfg.Box.Seal(plain, stateAD(st.Purpose, st.Binding))), nil
}

// open returns the state sealed for purpose and binding, if it has not
// expired.
func (s *Service) open(purpose, binding, sealed string) (*state, error) {
	if sealed == "" || len(sealed) > maxState {
		return nil, fmt.Errorf("%w: no ceremony state", ErrCeremony)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed state", ErrCeremony)
	}
	plain, err := s.cfg.Box.Open(raw, stateAD(purpose, binding))
	if err != nil {
		return nil, fmt.Errorf("%w: state of another ceremony", ErrCeremony)
	}
	var st state
	if err := json.Unmarshal(plain, &st); err != nil || st.Purpose != purpose || st.Binding != binding {
		return nil, fmt.Errorf("%w: state of another ceremony", ErrCeremony)
	}
	if s.cfg.Now().After(time.UnixMicro(st.Issued).Add(CeremonyTTL)) {
		return nil, fmt.Errorf("%w: expired", ErrCeremony)
	}
	return &st, nil
}
