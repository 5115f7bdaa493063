package connections

import (
	"net/netip"
	"net/url"
	"strings"
)

// checkComplete checks that the options of a connection, as they will be
// stored (public and secret merged), are usable by its strategy, so a broken
// connection is refused when it is saved rather than at its first login.
func checkComplete(strategy string, public, secret map[string]any) error {
	str := func(k string) string {
		if v, ok := public[k].(string); ok {
			return v
		}
		v, _ := secret[k].(string)
		return v
	}
	switch strategy {
	case StrategyLDAP:
		raw := str("url")
		if raw == "" {
			return &OptionError{Key: "url", Message: "is required (ldap://host:389 or ldaps://host:636)"}
		}
		u, _ := url.Parse(raw)
		switch {
		case u == nil || (u.Scheme != "ldap" && u.Scheme != "ldaps"):
			return &OptionError{Key: "url", Message: "must be an ldap:// or ldaps:// URL"}
		case u.Scheme == "ldap" && !Bool(public, "start_tls") && !Bool(public, "allow_insecure"):
			// Passwords would cross the network in the clear.
			return &OptionError{Key: "url", Message: "plain ldap:// needs start_tls, or allow_insecure for a loopback test directory"}
		}
	case StrategyOIDC:
		if str("preset") == "" && str("discovery_url") == "" && str("issuer") == "" {
			return &OptionError{Key: "discovery_url", Message: "is required (or issuer, or a preset)"}
		}
		if str("client_id") == "" {
			return &OptionError{Key: "client_id", Message: "is required"}
		}
		for _, k := range []string{"discovery_url", "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint"} {
			if err := checkFetchedURL(k, str(k), Bool(public, "allow_private_network")); err != nil {
				return err
			}
		}
	case StrategySAML:
		if str("metadataXml") == "" && str("metadataUrl") == "" && (str("signInEndpoint") == "" || str("signingCert") == "") {
			return &OptionError{Key: "metadataXml", Message: "is required (or metadataUrl, or signInEndpoint with signingCert)"}
		}
		if err := checkFetchedURL("metadataUrl", str("metadataUrl"), Bool(public, "allow_private_network")); err != nil {
			return err
		}
	case StrategyCustomDB:
		if dsn := str("dsn"); dsn != "" && !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") && !strings.HasPrefix(dsn, "mysql://") {
			return &OptionError{Key: "dsn", Message: "must be a postgres:// or mysql:// URL"}
		}
	}
	return nil
}

// checkFetchedURL refuses, when it is saved, a URL the server would fetch
// but the outbound client would refuse: plain http, or a host that is
// loopback or a private address literal, without allow_private_network.
// (Names are checked where they resolve, at every connection.)
func checkFetchedURL(key, raw string, allowPrivate bool) error {
	if raw == "" || allowPrivate {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return &OptionError{Key: key, Message: "must be an absolute URL"}
	}
	if u.Scheme != "https" {
		return &OptionError{Key: key, Message: "must be an https URL (allow_private_network permits http on a private network)"}
	}
	host := u.Hostname()
	ip, err := netip.ParseAddr(host)
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") ||
		(err == nil && (!ip.Unmap().IsGlobalUnicast() || ip.Unmap().IsPrivate() || ip.Unmap().IsLoopback())) {
		return &OptionError{Key: key, Message: "points to a loopback, private or reserved address (allow_private_network permits private networks)"}
	}
	return nil
}
