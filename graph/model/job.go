package model

import (
	"time"

	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Job is a user import or export job as GraphQL shows it; its errors are
// resolved on demand.
type Job struct {
	ID              pulid.ID    `json:"id"`
	Type            string      `json:"type"`
	Status          string      `json:"status"`
	Connection      *string     `json:"connection,omitempty"`
	ConnectionID    *pulid.ID   `json:"connectionId,omitempty"`
	ExternalID      *string     `json:"externalId,omitempty"`
	Upsert          *bool       `json:"upsert,omitempty"`
	PercentageDone  int         `json:"percentageDone"`
	TimeLeftSeconds int         `json:"timeLeftSeconds"`
	RowsDone        int         `json:"rowsDone"`
	Summary         *JobSummary `json:"summary"`
	Error           *string     `json:"error,omitempty"`
	CreatedAt       time.Time   `json:"createdAt"`
}
