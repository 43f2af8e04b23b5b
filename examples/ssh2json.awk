#!/usr/bin/awk -f
# ssh2json.awk - sshd syslog lines to JSON events for tripline, one object per line.
#
#   awk -v year=2024 -f examples/ssh2json.awk /var/log/auth.log | tripline -r examples/ssh.yaml
#
# Plain POSIX awk: runs with mawk (the awk of minimal Debian), gawk and busybox awk.
#
# Variables (-v NAME=VALUE):
#   year   the year of the first line, four digits. Default 2024: a syslog line carries no year,
#          so give the real one (-v year="$(date +%Y)" for this year's log). When the month
#          goes from December back to January, the year goes up by one.
#   tz     the UTC offset of the log's clock, put on every time: Z (default) or +08:00, -05:00.
#   other  1 (default): an sshd line that is not recognised becomes {"type":"other","msg":...};
#          0: it is skipped. Lines of other programs (sudo, cron...) are always skipped.
#   flush  1: flush the output after every line, for a live log (tail -F ... | awk ...);
#          awk otherwise writes to a pipe in blocks. Default 0.
#
# Input: classic syslog lines, "Dec 10 06:55:46 host sshd[24200]: MESSAGE", or ones that start
# with an RFC 3339 time ("2024-12-10T06:55:46.123456+08:00 host sshd[24200]: MESSAGE"), which
# is kept as it is (year and tz then do not apply). CRLF line ends are accepted.
#
# Output, fields in this order, each only when the line has it:
#   ts       RFC 3339, "2024-12-10T06:55:46Z"
#   type     see below
#   user     the user name as sshd wrote it (it can hold spaces: "Invalid user  0101" is " 0101")
#   ip       the client address; port: its port (a number)
#   rhost    the client's host name, where sshd or PAM gave a name rather than an address
#   ...      the fields of the type (below)
#   preauth  true when the line ends with [preauth] (before authentication)
#   host     the syslog host name; pid: sshd's process id (a number)
# Strings are JSON-escaped (quote, backslash, control characters); other bytes go through as
# they are, so a line with invalid UTF-8 gives an event that tripline reports and skips.
#
# Types:
#   failed_password    Failed password for [invalid user] USER from IP port N ssh2
#                      (+ method; invalid: true when sshd does not know the user, else false)
#   failed_auth        the same with another method: none, publickey... (+ method, invalid)
#   accepted           Accepted METHOD for USER from IP port N ssh2 (+ method)
#   invalid_user       Invalid user USER from IP [port N]
#   auth_failure       pam_unix(sshd:auth): authentication failure; ... rhost=H [user=U]
#   pam_more_failures  PAM N more authentication failures; rhost=H [user=U] (+ count: N)
#   too_many_failures  Disconnecting: Too many authentication failures for USER, or
#                      maximum authentication attempts exceeded for USER from IP port N
#   disconnect         Received disconnect from IP[ port N]: CODE: REASON (+ code, reason),
#                      Disconnected from [user U] IP port N
#   connection_closed  Connection closed by [authenticating user U] IP [port N]
#   no_identification  Did not receive identification string from IP
#   reverse_mapping    reverse mapping checking getaddrinfo for NAME [IP] failed - POSSIBLE
#                      BREAK-IN ATTEMPT! (rhost: NAME), or Address IP maps to NAME, but this
#                      does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!
#   session_opened     pam_unix(sshd:session): session opened for user USER by ...
#   session_closed     pam_unix(sshd:session): session closed for user USER
#   other              anything else from sshd (+ msg: the message, verbatim), such as
#                      "pam_unix(sshd:auth): check pass; user unknown" or
#                      "input_userauth_request: invalid user X [preauth]"
#
# "message repeated N times: [ MESSAGE]" (syslog's compression of identical lines) gives N
# events of MESSAGE, all at the time of that line: a brute-force counter must see them all.

BEGIN {
	if (year == "")
		year = 2024
	if (tz == "")
		tz = "Z"
	if (other == "")
		other = 1
	flush += 0
	if (year !~ /^[0-9][0-9][0-9][0-9]$/) {
		print "ssh2json.awk: year must be four digits, not '" year "'" > "/dev/stderr"
		bad = 1
		exit 2
	}
	if (tz !~ /^(Z|[+-][0-9][0-9]:[0-9][0-9])$/) {
		print "ssh2json.awk: tz must be Z or +HH:MM / -HH:MM, not '" tz "'" > "/dev/stderr"
		bad = 1
		exit 2
	}
	split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", names, " ")
	for (i = 1; i <= 12; i++)
		MON[names[i]] = i
	# Control characters, for the JSON string escapes.
	CTRL = "["
	for (i = 1; i < 32; i++) {
		c = sprintf("%c", i)
		ORD[c] = i
		CTRL = CTRL c
	}
	CTRL = CTRL "]"
	ADDR = "[0-9A-Fa-f:.]+"
	prev_mon = 0
}

# A JSON string: quotes, backslash and control characters escaped; other bytes as they are.
function jstr(s,    r, i, n, c) {
	if (s !~ /["\\]/ && s !~ CTRL)
		return "\"" s "\""
	r = ""
	n = length(s)
	for (i = 1; i <= n; i++) {
		c = substr(s, i, 1)
		if (c == "\\")
			r = r "\\\\"
		else if (c == "\"")
			r = r "\\\""
		else if (c == "\t")
			r = r "\\t"
		else if (c == "\n")
			r = r "\\n"
		else if (c == "\r")
			r = r "\\r"
		else if (c in ORD)
			r = r sprintf("\\u%04x", ORD[c])
		else
			r = r c
	}
	return "\"" r "\""
}

# s without its first length(prefix) characters (the caller has checked that s starts so).
function rest(s, prefix) {
	return substr(s, length(prefix) + 1)
}

function is_addr(s) {
	return s ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ || (s ~ /:/ && s ~ /^[0-9A-Fa-f:.]+$/)
}

# Field setters: E holds the fields of the event being built, in the order they are added.
function str(name, v) { E = E ",\"" name "\":" jstr(v) }
function num(name, v) { E = E ",\"" name "\":" (v + 0) }
function yes(name) { E = E ",\"" name "\":true" }
function bool(name, v) { E = E ",\"" name "\":" (v ? "true" : "false") }

# An address or a host name, as PAM and the reverse mapping give it.
function remote(h) {
	if (h == "")
		return
	if (is_addr(h))
		str("ip", h)
	else
		str("rhost", h)
}

# "USER from ADDR port N[ ssh2]" (tail: also ": KEY INFO" after it): sets U, A, P.
function user_from(s, tail,    re, t) {
	re = " from " ADDR " port [0-9]+( ssh[12])?"
	if (tail)
		re = re "(: .*)?"
	if (!match(s, re "$"))
		return 0
	U = substr(s, 1, RSTART - 1)
	t = substr(s, RSTART + 6)
	A = t
	sub(/ .*/, "", A)
	P = t
	sub(/^[^ ]+ port /, "", P)
	sub(/[^0-9].*/, "", P)
	return 1
}

# "ADDR[ port N]" at the end of s (after a space, or the whole of s): sets A, P and B (what
# comes before it, without the space).
function addr_port(s) {
	A = ""; P = ""; B = ""
	if (match(s, "(^| )" ADDR " port [0-9]+$")) {
		P = substr(s, RSTART)
		sub(/^.* port /, "", P)
		s = substr(s, 1, RSTART + RLENGTH - 1 - length(" port " P))
	}
	if (!match(s, "(^| )" ADDR "$"))
		return 0
	A = substr(s, RSTART)
	sub(/^ /, "", A)
	B = substr(s, 1, RSTART - 1)
	return 1
}

# PAM's "... rhost=H  user=U": the remote host and the user, when given.
function pam_fields(s,    h, u) {
	h = s
	if (sub(/^.* rhost=/, "", h)) {
		sub(/ .*/, "", h)
		remote(h)
	}
	if (match(s, / user=/)) {
		u = substr(s, RSTART + 6)
		sub(/ +$/, "", u)
		if (u != "")
			str("user", u)
	}
}

# Sets T (the type) and E (the other fields) for one message; returns 0 if unrecognised.
function classify(m,    s, method, n) {
	T = ""
	E = ""
	if (sub(/ \[preauth\]$/, "", m))
		PRE = 1
	sub(/^error: /, "", m)

	if (m ~ /^Failed [^ ]+ for /) {
		s = m
		sub(/^Failed /, "", s)
		method = s
		sub(/ .*/, "", method)
		sub(/^[^ ]+ for /, "", s)
		if (!user_from(s, 0))
			return 0
		n = sub(/^invalid user /, "", U)
		T = method == "password" ? "failed_password" : "failed_auth"
		str("user", U); str("ip", A); num("port", P); str("method", method); bool("invalid", n)
		return 1
	}
	if (m ~ /^Accepted [^ ]+ for /) {
		s = m
		sub(/^Accepted /, "", s)
		method = s
		sub(/ .*/, "", method)
		sub(/^[^ ]+ for /, "", s)
		if (!user_from(s, 1))
			return 0
		T = "accepted"
		str("user", U); str("ip", A); num("port", P); str("method", method)
		return 1
	}
	if (m ~ /^Invalid user /) {
		s = rest(m, "Invalid user ")
		if (!match(s, " from " ADDR "( port [0-9]+)?$"))
			return 0
		U = substr(s, 1, RSTART - 1)
		s = substr(s, RSTART + 6)
		T = "invalid_user"
		str("user", U)
		if (addr_port(s)) {
			str("ip", A)
			if (P != "")
				num("port", P)
		}
		return 1
	}
	if (m ~ /^pam_unix\(sshd:auth\): authentication failure;/) {
		T = "auth_failure"
		pam_fields(m)
		return 1
	}
	if (m ~ /^PAM [0-9]+ more authentication failures?;/) {
		n = m
		sub(/^PAM /, "", n)
		sub(/ .*/, "", n)
		T = "pam_more_failures"
		pam_fields(m)
		num("count", n)
		return 1
	}
	if (m ~ /^Disconnecting: Too many authentication failures for /) {
		T = "too_many_failures"
		str("user", rest(m, "Disconnecting: Too many authentication failures for "))
		return 1
	}
	if (m ~ /^maximum authentication attempts exceeded for /) {
		s = rest(m, "maximum authentication attempts exceeded for ")
		if (!user_from(s, 0))
			return 0
		n = sub(/^invalid user /, "", U)
		T = "too_many_failures"
		str("user", U); str("ip", A); num("port", P); bool("invalid", n)
		return 1
	}
	if (m ~ /^Received disconnect from /) {
		s = rest(m, "Received disconnect from ")
		if (!match(s, "^" ADDR "( port [0-9]+)?: ?[0-9]+: "))
			return 0
		A = substr(s, 1, RLENGTH)      # "IP[ port N]: CODE: "
		s = substr(s, RLENGTH + 1)     # the reason
		n = A
		sub(/: $/, "", n)
		sub(/^.*[: ]/, "", n)
		sub(/: ?[0-9]+: $/, "", A)
		P = ""
		if (A ~ / port /) {
			P = A
			sub(/^.* port /, "", P)
			sub(/ .*/, "", A)
		}
		T = "disconnect"
		str("ip", A)
		if (P != "")
			num("port", P)
		num("code", n); str("reason", s)
		return 1
	}
	if (m ~ /^Disconnected from /) {
		s = rest(m, "Disconnected from ")
		if (!addr_port(s))
			return 0
		T = "disconnect"
		if (sub(/^(authenticating |invalid )?user /, "", B))
			str("user", B)
		str("ip", A)
		if (P != "")
			num("port", P)
		return 1
	}
	if (m ~ /^Connection closed by /) {
		s = rest(m, "Connection closed by ")
		if (!addr_port(s))
			return 0
		T = "connection_closed"
		if (sub(/^(authenticating |invalid )?user /, "", B))
			str("user", B)
		str("ip", A)
		if (P != "")
			num("port", P)
		return 1
	}
	if (m ~ /^Did not receive identification string from /) {
		if (!addr_port(rest(m, "Did not receive identification string from ")) || B != "")
			return 0
		T = "no_identification"
		str("ip", A)
		if (P != "")
			num("port", P)
		return 1
	}
	if (m ~ /^reverse mapping checking getaddrinfo for [^ ]+ \[[^]]+\] failed/) {
		s = rest(m, "reverse mapping checking getaddrinfo for ")
		n = s
		sub(/ .*/, "", n)
		sub(/^[^ ]+ \[/, "", s)
		sub(/\].*/, "", s)
		T = "reverse_mapping"
		remote(s)
		str("rhost", n)
		return 1
	}
	if (m ~ /^Address [^ ]+ maps to [^ ]+, but this does not map back to the address/) {
		s = rest(m, "Address ")
		sub(/ .*/, "", s)
		n = m
		sub(/^Address [^ ]+ maps to /, "", n)
		sub(/,.*/, "", n)
		T = "reverse_mapping"
		remote(s)
		str("rhost", n)
		return 1
	}
	if (m ~ /^pam_unix\(sshd:session\): session (opened|closed) for user /) {
		T = m ~ /opened/ ? "session_opened" : "session_closed"
		s = m
		sub(/^pam_unix\(sshd:session\): session (opened|closed) for user /, "", s)
		sub(/( by .*|\(.*)$/, "", s)
		str("user", s)
		return 1
	}
	return 0
}

# Writes one event: ts, type, the fields of the type, preauth, host, pid.
function emit(m, times,    i, line) {
	PRE = 0
	if (!classify(m)) {
		if (!other)
			return
		T = "other"
		E = ""
		PRE = 0
		str("msg", m)
	}
	line = "{\"ts\":" jstr(TS) ",\"type\":\"" T "\"" E
	if (PRE)
		line = line ",\"preauth\":true"
	line = line ",\"host\":" jstr(HOST)
	if (PID != "")
		line = line ",\"pid\":" PID
	line = line "}"
	for (i = 0; i < times; i++)
		print line
	if (flush)
		fflush()
}

{
	sub(/\r$/, "")
	if ($1 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T/) {
		TS = $1
		HOST = $2
		prog = $3
	} else if (($1 in MON) && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/) {
		mon = MON[$1]
		if (prev_mon == 12 && mon == 1)
			year++
		prev_mon = mon
		TS = sprintf("%04d-%02d-%02dT%s%s", year, mon, $2, $3, tz)
		HOST = $4
		prog = $5
	} else {
		next
	}
	if (prog !~ /^sshd(-session)?(\[[0-9]+\])?:$/)
		next
	PID = ""
	if (prog ~ /\[/) {
		PID = prog
		sub(/^[^[]*\[/, "", PID)
		sub(/\].*/, "", PID)
	}
	i = index($0, " " prog " ")
	msg = i ? substr($0, i + length(prog) + 2) : ""
	if (msg ~ /^message repeated [0-9]+ times: \[ .*\]$/) {
		n = msg
		sub(/^message repeated /, "", n)
		sub(/ .*/, "", n)
		sub(/^message repeated [0-9]+ times: \[ /, "", msg)
		sub(/\]$/, "", msg)
		emit(msg, n + 0)
	} else {
		emit(msg, 1)
	}
}

END {
	if (bad)
		exit 2
}
