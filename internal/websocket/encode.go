package websocket

import (
	"encoding/json"
	"reflect"
	"sync"
)

// gqlgen hands WriteJSON its protocol messages as structs of an unexported
// type with three exported fields: Payload (json.RawMessage, already
// encoded), ID and Type. encoding/json would re-validate and compact the
// payload of every message; a story event goes to thousands of
// subscribers, so the envelope is written by hand around the payload's bytes.

// messageFields are the field indexes of a message struct type; ok is false
// for any other type.
type messageFields struct {
	payload, id, typ int
	ok               bool
}

var messageTypes sync.Map // reflect.Type → messageFields

func fieldsOf(t reflect.Type) messageFields {
	if f, ok := messageTypes.Load(t); ok {
		return f.(messageFields)
	}
	f := messageFields{payload: -1, id: -1, typ: -1}
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			sf := t.Field(i)
			switch {
			case sf.Name == "Payload" && sf.Type == reflect.TypeFor[json.RawMessage]():
				f.payload = i
			case sf.Name == "ID" && sf.Type.Kind() == reflect.String:
				f.id = i
			case sf.Name == "Type" && sf.Type.Kind() == reflect.String:
				f.typ = i
			}
		}
		f.ok = f.payload >= 0 && f.id >= 0 && f.typ >= 0
	}
	messageTypes.Store(t, f)
	return f
}

// encodeMessage encodes a gqlgen protocol message as encoding/json would
// (fields payload, id, type; the first two omitted when empty) and returns
// its id and type too. ok is false when v is not such a message.
func encodeMessage(v any) (data []byte, id, typ string, ok bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, "", "", false
		}
		rv = rv.Elem()
	}
	f := fieldsOf(rv.Type())
	if !f.ok {
		return nil, "", "", false
	}
	payload := rv.Field(f.payload).Bytes()
	id, typ = rv.Field(f.id).String(), rv.Field(f.typ).String()
	data = make([]byte, 0, len(payload)+len(id)+len(typ)+32)
	data = append(data, '{')
	if len(payload) > 0 {
		data = append(data, `"payload":`...)
		data = append(data, payload...)
		data = append(data, ',')
	}
	if id != "" {
		data = append(data, `"id":`...)
		data = appendString(data, id)
		data = append(data, ',')
	}
	data = append(data, `"type":`...)
	data = appendString(data, typ)
	data = append(data, '}')
	return data, id, typ, true
}

// appendString appends s as a JSON string. Operation ids come from clients,
// so anything but plain characters goes through encoding/json.
func appendString(data []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s)
			return append(data, quoted...)
		}
	}
	data = append(data, '"')
	data = append(data, s...)
	return append(data, '"')
}
