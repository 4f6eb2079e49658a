#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the demo VM: a QUIC echo over the kernel's IPPROTO_QUIC
# sockets, with the TLS 1.3 handshake done in userspace by rustls.
# Usage: guest-demo.sh QUIC_ECHO
set -eu
echo_bin=$1
echo "guest kernel: $(uname -r)"
dir=$(mktemp -d)
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=demo-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-subj /CN=localhost -keyout key.pem -out req.pem 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' > ext.cnf
openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
	-extfile ext.cnf -out cert.pem 2>/dev/null
echo "server: quic-echo listening on 127.0.0.1:4433 (IPPROTO_QUIC, ALPN smb)"
"$echo_bin" server 127.0.0.1:4433 key.pem cert.pem smb 2> server.log &
spid=$!
sleep 1
msg="Hello from userspace, through QUIC in the kernel."
echo "client: connect, TLS 1.3 handshake, stream 0: \"$msg\""
reply=$("$echo_bin" client 127.0.0.1:4433 smb --ca ca.pem --name localhost "$msg")
kill "$spid" 2>/dev/null || true
echo "client: echoed back: \"$reply\""
echo "server: $(head -1 server.log)"
[ "$reply" = "$msg" ] && echo "QUIC exchange OK"
