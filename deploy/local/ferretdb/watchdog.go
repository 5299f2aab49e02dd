package main

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"
)

// pingMessage is an OP_MSG carrying {ping: 1, $db: "admin"}. FerretDB answers ping only after asking its
// backend for its status, so a reply (even an error, say when PostgreSQL is down) shows that commands
// still get a PostgreSQL connection; no reply at all is the hang this watchdog exists for.
func pingMessage(requestID int32) []byte {
	doc := []byte{}
	doc = append(doc, 0x10)
	doc = append(doc, "ping\x00"...)
	doc = binary.LittleEndian.AppendUint32(doc, 1)
	doc = append(doc, 0x02)
	doc = append(doc, "$db\x00"...)
	doc = binary.LittleEndian.AppendUint32(doc, uint32(len("admin")+1))
	doc = append(doc, "admin\x00"...)
	doc = append(doc, 0x00)
	body := binary.LittleEndian.AppendUint32(nil, uint32(len(doc)+4))
	body = append(body, doc...)

	msg := make([]byte, 0, 16+4+1+len(body))
	msg = binary.LittleEndian.AppendUint32(msg, uint32(16+4+1+len(body))) // messageLength
	msg = binary.LittleEndian.AppendUint32(msg, uint32(requestID))
	msg = binary.LittleEndian.AppendUint32(msg, 0)    // responseTo
	msg = binary.LittleEndian.AppendUint32(msg, 2013) // OP_MSG
	msg = binary.LittleEndian.AppendUint32(msg, 0)    // flagBits
	msg = append(msg, 0)                              // section kind 0: the command document
	return append(msg, body...)
}

// ping sends one ping to addr and waits up to timeout for the whole reply.
func ping(addr string, requestID int32, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err = conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err = conn.Write(pingMessage(requestID)); err != nil {
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

// watch pings the server through its own listener every interval and calls stuck once no ping has been
// answered for unanswered (counting from the first answer, so a slow start is not taken for a hang).
func watch(addr string, interval, unanswered time.Duration, logger *slog.Logger, stuck func()) {
	var lastAnswer time.Time
	for id := int32(1); ; id++ {
		time.Sleep(interval)
		err := ping(addr, id, interval)
		if err == nil {
			lastAnswer = time.Now()
			continue
		}
		if lastAnswer.IsZero() {
			continue
		}
		silent := time.Since(lastAnswer)
		logger.Warn("ping unanswered", "error", err, "silent", silent.Round(time.Second).String())
		if silent >= unanswered {
			logger.Error("no ping answered; exiting so that the server is started again", "silent", silent.String())
			stuck()
			return
		}
	}
}
