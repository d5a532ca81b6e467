package server

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/errs"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// fuzzDecoder checks a request decoder on arbitrary bodies: it never panics, and every
// refusal is ErrInvalid (a 400), never something that would become a 500.
func fuzzDecoder(f *testing.F, seeds []string, parse func(body string) error) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if err := parse(body); err != nil && !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}

func FuzzParseSignUp(f *testing.F) {
	fuzzDecoder(f, []string{
		`{"email":"a@example.org","password":"douze caractères","first_name":"A","last_name":"B","commune":"92002"}`,
		`{"email":"a@example.org","password":"douze caractères","first_name":"A","last_name":"B","bureau":"92050_0003"}`,
		`{"email":"Eve <e@x.y>","consents":[{"purpose":"sms","granted":true}]}`, `{}`, `[]`, `{"email":1}`, "",
	}, func(body string) error {
		_, _, err := parseSignUp(httptest.NewRequest("POST", "/", strings.NewReader(body)))
		return err
	})
}

func FuzzParseLogin(f *testing.F) {
	fuzzDecoder(f, []string{`{"email":"a@example.org","password":"x"}`, `{"email":"","password":""}`, `{"a":1}`},
		func(body string) error {
			_, err := parseLogin(httptest.NewRequest("POST", "/", strings.NewReader(body)))
			return err
		})
}

func FuzzParseGrant(f *testing.F) {
	fuzzDecoder(f, []string{`{"member_id":1,"territory_id":2,"role":"adherent"}`, `{"member_id":1,"territory_id":2,"permission":"member.export"}`,
		`{"member_id":-1,"territory_id":2,"role":"x","permission":"y"}`},
		func(body string) error {
			_, err := parseGrant(httptest.NewRequest("POST", "/", strings.NewReader(body)))
			return err
		})
}

func FuzzParseAreas(f *testing.F) {
	fuzzDecoder(f, []string{`{"areas":[{"commune":"92002"}]}`, `{"areas":[{"commune":"2A004","bureau":"2A004_1"}]}`,
		`{"areas":[{"bureau":"97101_0001"}]}`, `{"areas":[]}`},
		func(body string) error {
			_, err := parseAreas(httptest.NewRequest("POST", "/", strings.NewReader(body)))
			return err
		})
}

func FuzzParseTerritory(f *testing.F) {
	fuzzDecoder(f, []string{`{"kind":"section","code":"92050-nord","name":"Nord","parent_id":2}`,
		`{"kind":"federation","code":"2A","name":"Corse-du-Sud","parent_id":1}`, `{"kind":"national"}`},
		func(body string) error {
			_, err := parseTerritory(httptest.NewRequest("POST", "/", strings.NewReader(body)))
			return err
		})
}

func FuzzParseOthers(f *testing.F) {
	fuzzDecoder(f, []string{`{"consents":[{"purpose":"sms","granted":true}]}`, `{"name":"n","expires_in_days":30}`,
		`{"token":"abc","password":"douze caractères"}`, `{"first_name":"A","phone":null}`},
		func(body string) error {
			_, e1 := parseConsents(httptest.NewRequest("POST", "/", strings.NewReader(body)), "fuzz")
			_, _, e2 := parseTokenRequest(httptest.NewRequest("POST", "/", strings.NewReader(body)))
			_, e3 := parseResetConfirm(httptest.NewRequest("POST", "/", strings.NewReader(body)))
			_, e4 := parseProfileUpdate(httptest.NewRequest("POST", "/", strings.NewReader(body)))
			return errors.Join(e1, e2, e3, e4)
		})
}
