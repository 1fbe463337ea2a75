package postgres_test

import (
	"testing"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

// TestNumberTextLenIsPostgres holds auth.NumberTextLen, which the
// preference rules count with, to what PostgreSQL's jsonb really prints,
// over every combination of sign, integer part, fraction and exponent
// below (leading and trailing zeros, zero itself, exponents that shift
// the point past either end).
func TestNumberTextLenIsPostgres(t *testing.T) {
	t.Parallel()
	s := testenv.Postgres(t)
	var nums []string
	for _, sign := range []string{"", "-"} {
		for _, whole := range []string{"0", "1", "9", "10", "100", "120", "12345678901234567890"} {
			for _, frac := range []string{"", ".0", ".5", ".05", ".500", ".000", ".0001", ".1234567"} {
				for _, exp := range []string{"", "e0", "E1", "e+2", "e-1", "e-3", "E5", "e-7", "e-8", "e39", "e-39", "e400", "e-400", "e00003"} {
					nums = append(nums, sign+whole+frac+exp)
				}
			}
		}
	}
	rows, err := s.Pool().Query(t.Context(), `SELECT n, length((n::jsonb)::text) FROM unnest($1::text[]) AS n`, nums)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var n string
		var want int64
		if err := rows.Scan(&n, &want); err != nil {
			t.Fatal(err)
		}
		if got := auth.NumberTextLen([]byte(n)); got != want {
			t.Errorf("NumberTextLen(%s) = %d, PostgreSQL prints %d characters", n, got, want)
		}
		checked++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if checked != len(nums) {
		t.Errorf("checked %d numbers of %d", checked, len(nums))
	}
}
