package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/postgres"
)

func TestOpenRefusesAMalformedURL(t *testing.T) {
	_, err := postgres.OpenDB("postgres://[::1")
	assert.Error(t, err)
	_, _, err = postgres.Open(t.Context(), "postgres://[::1", sqlstore.Config{})
	assert.Error(t, err)
}
