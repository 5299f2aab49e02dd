package main

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"
)

// The watchdog's probe: a find of {_id: 1} in tongpin_watchdog.alive, which FerretDB answers with a SELECT,
// so it needs a PostgreSQL connection (ping does not: FerretDB answers it from cached metadata when it holds
// no database). The document is inserted once, by the first probe; after that nothing is written, and no
// probe fails as a duplicate into the logs. Any reply, an error included (say when PostgreSQL is down), shows
// that commands still get a connection. No reply at all is the hang this watchdog exists for.

func bsonDocument(elements ...[]byte) []byte {
	size := 4 + 1
	for _, e := range elements {
		size += len(e)
	}
	doc := binary.LittleEndian.AppendUint32(make([]byte, 0, size), uint32(size))
	for _, e := range elements {
		doc = append(doc, e...)
	}
	return append(doc, 0)
}

func bsonElement(kind byte, name string, value []byte) []byte {
	e := append([]byte{kind}, name...)
	e = append(e, 0)
	return append(e, value...)
}

func bsonString(name, value string) []byte {
	v := binary.LittleEndian.AppendUint32(nil, uint32(len(value)+1))
	v = append(v, value...)
	return bsonElement(0x02, name, append(v, 0))
}

func bsonInt32(name string, value int32) []byte {
	return bsonElement(0x10, name, binary.LittleEndian.AppendUint32(nil, uint32(value)))
}

// insertCommand stores the document the probes read.
func insertCommand() []byte {
	return bsonDocument(
		bsonString("insert", "alive"),
		bsonElement(0x04, "documents", bsonDocument(bsonElement(0x03, "0", bsonDocument(bsonInt32("_id", 1))))),
		bsonString("$db", "tongpin_watchdog"),
	)
}

// findCommand reads it.
func findCommand() []byte {
	return bsonDocument(
		bsonString("find", "alive"),
		bsonElement(0x03, "filter", bsonDocument(bsonInt32("_id", 1))),
		bsonInt32("limit", 1),
		bsonString("$db", "tongpin_watchdog"),
	)
}

// opMsg wraps a command document in an OP_MSG.
func opMsg(requestID int32, body []byte) []byte {
	msg := make([]byte, 0, 16+4+1+len(body))
	msg = binary.LittleEndian.AppendUint32(msg, uint32(16+4+1+len(body))) // messageLength
	msg = binary.LittleEndian.AppendUint32(msg, uint32(requestID))
	msg = binary.LittleEndian.AppendUint32(msg, 0)    // responseTo
	msg = binary.LittleEndian.AppendUint32(msg, 2013) // OP_MSG
	msg = binary.LittleEndian.AppendUint32(msg, 0)    // flagBits
	msg = append(msg, 0)                              // section kind 0: the command document
	return append(msg, body...)
}

// probe sends one command to addr and waits up to timeout for the whole reply.
func probe(addr string, requestID int32, command []byte, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err = conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err = conn.Write(opMsg(requestID, command)); err != nil {
		return err
	}
	header := make([]byte, 16)
	if _, err = io.ReadFull(conn, header); err != nil {
		return err
	}
	length := binary.LittleEndian.Uint32(header[0:4])
	if binary.LittleEndian.Uint32(header[8:12]) != uint32(requestID) || length < 16 || length > 1<<20 {
		return errors.New("unexpected reply")
	}
	_, err = io.ReadFull(conn, make([]byte, length-16))
	return err
}

// watch probes the server through its own listener every interval and calls stuck once no probe has been
// answered for unanswered (counting from the first answer, so a slow start is not taken for a hang).
func watch(addr string, interval, unanswered time.Duration, logger *slog.Logger, stuck func()) {
	var lastAnswer time.Time
	for id := int32(1); ; id++ {
		time.Sleep(interval)
		command := findCommand()
		if lastAnswer.IsZero() {
			command = insertCommand() // until the first answer; after it the document is there to read
		}
		err := probe(addr, id, command, interval)
		if err == nil {
			lastAnswer = time.Now()
			continue
		}
		if lastAnswer.IsZero() {
			continue
		}
		silent := time.Since(lastAnswer)
		logger.Warn("probe unanswered", "error", err, "silent", silent.Round(time.Second).String())
		if silent >= unanswered {
			logger.Error("no probe answered; exiting so that the server is started again", "silent", silent.String())
			stuck()
			return
		}
	}
}
