package rulesrun_test

import (
	"testing"

	"github.com/authgraph/authgraph/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
