"""Manifest of the libopensmtpd C-API test cases (imported by run_osmtpd.py).

Each case is a dict:
  name        unique; golden output is expected/<name>.out
  prog        C filter opensmtpd/<prog>.c (PROGS: extra link flags)
  args        argv words of the filter (key=value, see the program's comment)
  fixture     a stream in fixtures/, or
  stream      an inline stream: str lines (sent with "\\n"; "@wait REGEX",
              "@sleep MS" as in fixtures) and bytes (sent exactly)
  flags       "divergent": Debian's libopensmtpd 0.7 is buggy here and we
              differ on purpose; `compat` names the COMPATIBILITY.md id
              (the runner checks that it exists).  Not run with --lib debian;
              --diff-against requires Debian's output to differ.
              "ours-only": the filter uses functions 0.7 does not export
  compat      the COMPATIBILITY.md id (O1, O2, ...) a divergent case shows
  timeout     seconds (default 10; x6 under valgrind)
  read_delay  ms the runner waits before it starts reading the filter's stdout
  summary     True: stdout is summarised (line count, first and last lines)
  env         extra environment variables of the filter
  loop        "poll" or "libevent": with our library (and not under valgrind)
              the filter runs under strace, and the loop osmtpd_run chose
              must be that one: poll(2) for a filter with no events of its
              own, libevent's epoll once the filter adds some
"""

# Programs and the extra link flags they need.
PROGS = {"f_filter": [], "f_async": ["-levent"], "f_ext": []}

CASES = []


def case(name, prog, args=(), **kw):
    assert all(c["name"] != name for c in CASES), name
    d = {"name": name, "prog": prog, "args": list(args)}
    d.update(kw)
    CASES.append(d)


def divergent(name, prog, args, compat, **kw):
    case(name, prog, args, flags=["divergent"], compat=compat, **kw)


HEAD = ["config|smtpd-version|6.8.0p2", "config|smtp-session-timeout|300",
        "config|subsystem|smtp-in", "config|ready", r"@wait ^register\|ready$"]
S1 = "1111aaaa0000f001"
TS = "1764652000.000001"


def rep(event, params=None, sid=S1, ver="0.6", d="in"):
    return "report|%s|%s|smtp-%s|%s|%s%s" % (ver, TS, d, event, sid,
                                             "" if params is None else "|" + params)


def fil(phase, params="", sid=S1, tok="7e57000000000001", ver="0.6"):
    return "filter|%s|%s|smtp-in|%s|%s|%s|%s" % (ver, TS, phase, sid, tok, params)


# A valid request answered before the interesting line, so that the answer
# is out of the filter before it stops (0.7 drops unwritten answers).
OPENING = HEAD + [fil("mail-from", "alice@example.org"),
                  r"@wait ^filter-result\|1111aaaa0000f001\|7e57000000000001\|proceed$"]
# What the filter registers for the bad-line cases: every event, so that a
# line is refused for what it holds, not for having no callback.
EVERYTHING = ["filters=all", "reports=all", "need=all", "ctx=0"]

# ------------------------------------------------------------ every event, every version
# Three interleaved sessions (IPv4, IPv6, smtp-out) through a filter
# registered for every filter phase and report event 0.7 can register.
# link-identify is left out (see v06_identify); the NEEDs fill every ctx
# field but the identity.
ALL = ["filters=all", "reports=all,-link-identify", "conf=1", "session=1", "message=1",
       "need=src,dst,rdns,fcrdns,greeting,ciphers,msgid,mailfrom,rcptto,evpid"]
for v in ("04", "05", "06", "07"):
    case("v%s_all" % v, "f_filter", ALL, fixture="v%s_sessions.txt" % v, loop="poll")

# Every kind of answer, in both id orders (<0.5: token|session-id).
ANSWERS = ["filters=all", "reports=all,-link-identify", "ctx=0", "dataline=tag",
           "answer.connect=reject:554:no service for {}",
           "answer.helo=disconnect:go away, {}",
           "answer.ehlo=reject_enh:550:5.7.1:{} is not welcome",
           "answer.starttls=reject:454:TLS not available",
           "answer.auth=reject_enh:535:5.7.8:Authentication credentials invalid",
           "answer.mail-from=reject:451:try again later",
           "answer.rcpt-to=reject_enh:550:5.1.1:<{}>: no such user",
           "answer.data=disconnect_enh:4.3.2:shutting down",
           "answer.rset=proceed",
           "answer.noop=reject:250:a 250 turned into a 421 by smtpd",
           "answer.help=reject:550:",
           "answer.wiz=disconnect_enh:4.7.0:",
           "answer.commit=reject_enh:554:5.7.1:message refused",
           "answer.quit=proceed"]
for v in ("04", "06"):
    case("v%s_answers" % v, "f_filter", ANSWERS, fixture="v%s_sessions.txt" % v)

# ------------------------------------------------------------ registration
REG_ONLY = HEAD
case("reg_one_filter", "f_filter", ["filters=mail-from"], stream=REG_ONLY)
case("reg_need_all", "f_filter", ["filters=data-line", "need=all"], stream=REG_ONLY)
case("reg_need_cumulative", "f_filter", ["filters=commit", "need=src", "need=mailfrom",
                                         "need=evpid"], stream=REG_ONLY)
case("reg_reverse_order", "f_filter", ["filters=all", "reports=all", "need=all", "reverse=1"],
     stream=REG_ONLY)
# A smtp-out report makes every NEED report appear for smtp-out too.
case("reg_out_only", "f_filter", ["reports=out:timeout", "need=src,identity,msgid"],
     stream=REG_ONLY)
case("reg_local_message", "f_filter", ["filters=commit", "message=1"], stream=REG_ONLY)
case("reg_message_delete_only", "f_filter", ["filters=commit", "message=delete"],
     stream=REG_ONLY)
case("reg_need_without_callback", "f_filter", ["need=all", "session=1"], stream=REG_ONLY)
case("reg_twice", "f_filter", ["filters=noop", "twice=noop"], stream=REG_ONLY)
# 0.7's table has incoming 0 (smtp-out) and 1 (smtp-in) only.
case("reg_incoming_2", "f_filter", ["reports=in:link-connect", "incoming=2"], stream=REG_ONLY)
case("reg_while_running", "f_filter", ["filters=noop", "answer.noop=register"],
     stream=HEAD + [fil("noop")])
case("conf_values", "f_filter", ["filters=noop", "conf=1"],
     stream=["config|smtpd-version|6.8.0p2", "config|protocol|0.7",
             "config|smtp-session-timeout|0", "config|subsystem|smtp-in",
             "config|admd|mx.example.net|with|pipes", "config|empty|", "config|ready|x",
             "config|ready", r"@wait ^register\|ready$"])

# ------------------------------------------------------------ answers and their checks
REJ = HEAD + [fil("mail-from", "alice@example.org")]
case("reject_code_600", "f_filter", ["filters=mail-from", "answer.mail-from=reject:600:x"],
     stream=REJ)
case("reject_code_199", "f_filter", ["filters=mail-from", "answer.mail-from=reject_enh:199:5.0.0:x"],
     stream=REJ)
case("reject_enh_class_6", "f_filter",
     ["filters=mail-from", "answer.mail-from=reject_enh:550:6.0.0:x"], stream=REJ)
case("reject_enh_class_2", "f_filter",
     ["filters=mail-from", "answer.mail-from=reject_enh:250:2.0.0:class 2 is allowed"],
     stream=REJ)
case("reject_enh_subject_1000", "f_filter",
     ["filters=mail-from", "answer.mail-from=reject_enh:550:5.1000.0:x"], stream=REJ)
case("reject_enh_detail_negative", "f_filter",
     ["filters=mail-from", "answer.mail-from=reject_enh:550:5.1.-1:x"], stream=REJ)
case("disconnect_enh_class_5", "f_filter",
     ["filters=mail-from", "answer.mail-from=disconnect_enh:5.7.1:x"], stream=REJ)
case("disconnect_enh_detail_1000", "f_filter",
     ["filters=mail-from", "answer.mail-from=disconnect_enh:4.7.1000:x"], stream=REJ)
divergent("disconnect_enh_class_3", "f_filter",
          ["filters=mail-from", "answer.mail-from=disconnect_enh:3.0.0:a 421 with class 3"],
          "O8", stream=REJ)
case("reason_with_pipes", "f_filter",
     ["filters=mail-from", "answer.mail-from=reject:550:a|reason|with|pipes {}"],
     stream=REJ + [fil("mail-from", "a|b@example.org", tok="7e57000000000002")])
divergent("reason_with_newline", "f_filter",
          ["filters=mail-from,rcpt-to",
           "answer.mail-from=reject:550:first line\nfilter-result|1111aaaa0000f001|"
           "7e57000000000099|proceed",
           "answer.rcpt-to=disconnect:bye\r\nsecond line"],
          "O7", stream=REJ + [fil("rcpt-to", "bob@example.net", tok="7e57000000000002")])
case("dataline_double", "f_filter", ["filters=data-line", "dataline=double", "ctx=0"],
     stream=HEAD + [fil("data-line", l, tok="7e57000000000003")
                    for l in ("Subject: x", "", "..dot", ".")])
case("dataline_drop", "f_filter", ["filters=data-line", "dataline=drop", "ctx=0"],
     stream=HEAD + [fil("data-line", l, tok="7e57000000000003")
                    for l in ("Subject: x", "X-DROP: me", "", "body", "DROP this too", ".")])
divergent("dataline_newline", "f_filter", ["filters=data-line", "dataline=nl", "ctx=0"], "O7",
          stream=HEAD + [fil("data-line", l, tok="7e57000000000003")
                         for l in ("Subject: x", "", "body", ".")])
case("dataline_long_60k", "f_filter", ["filters=data-line", "ctx=0", "silent=data-line"],
     stream=HEAD + [fil("data-line", "x" * 60000, tok="7e57000000000003"),
                    fil("data-line", ".", tok="7e57000000000003")], summary=True)

# ------------------------------------------------------------ the filter ends itself
case("errx_in_callback", "f_filter",
     ["filters=mail-from,rcpt-to", "answer.rcpt-to=errx:filter gave up"],
     stream=OPENING + [fil("rcpt-to", "bob@example.net", tok="7e57000000000002")])
case("err_in_callback", "f_filter",
     ["filters=mail-from,rcpt-to", "answer.rcpt-to=err:cannot open /etc/mail/db"],
     stream=OPENING + [fil("rcpt-to", "bob@example.net", tok="7e57000000000002")])
# Same, but the first answer is still queued when the filter exits: 0.7
# loses it, we write it first.
divergent("errx_keeps_queued_answers", "f_filter",
          ["filters=mail-from,rcpt-to", "answer.rcpt-to=errx:filter gave up"], "O12",
          stream=HEAD + [fil("mail-from", "alice@example.org"),
                         fil("rcpt-to", "bob@example.net", tok="7e57000000000002")])

# ------------------------------------------------------------ sessions and messages
# A transaction ended by rollback, another by commit, then the disconnect.
TX = HEAD + [fil("mail-from", "alice@example.org"), rep("tx-begin", "0a1b2c3d"),
             rep("tx-mail", "0a1b2c3d|ok|alice@example.org"), rep("tx-rollback", "0a1b2c3d"),
             fil("mail-from", "alice@example.org", tok="7e57000000000002"),
             rep("tx-begin", "0a1b2c3e"), rep("tx-mail", "0a1b2c3e|ok|alice@example.org"),
             rep("tx-commit", "0a1b2c3e|100"), rep("link-disconnect")]
case("session_delete_only", "f_filter",
     ["filters=mail-from", "reports=in:link-disconnect", "session=delete", "message=delete",
      "need=msgid", "ctx=0"], stream=TX)
# Without NEED_MSGID oncreate_message sees msgid 0 (0.7 resets it before).
case("message_without_need_msgid", "f_filter",
     ["filters=mail-from", "session=1", "message=1", "need=mailfrom"], stream=TX)
divergent("disconnect_open_message", "f_filter",
          ["filters=mail-from", "reports=in:tx-begin,in:link-disconnect", "session=1",
           "message=1", "need=msgid,mailfrom", "ctx=0"], "O11",
          fixture="disconnect_open_message.txt")
# A tx-begin while a message is open (smtpd never does this): 0.7 calls
# oncreate_message again and the first local_message is lost.
divergent("tx_begin_twice", "f_filter",
          ["filters=mail-from", "session=1", "message=1", "need=msgid,mailfrom", "ctx=0"], "O11",
          stream=HEAD + [fil("mail-from", "alice@example.org"), rep("tx-begin", "0a1b2c3d"),
                         rep("tx-mail", "0a1b2c3d|ok|alice@example.org"),
                         rep("tx-begin", "0a1b2c3e"), rep("tx-rollback", "0a1b2c3e"),
                         rep("link-disconnect")])
divergent("eof_open_sessions", "f_filter",
          ["filters=mail-from", "session=1", "message=1", "need=msgid,mailfrom"], "O11",
          fixture="eof_open.txt")
divergent("oncreate_full_ctx", "f_filter",
          ["filters=mail-from", "reports=in:link-connect", "session=1", "oncreate=full",
           "nsec=1"], "O5",
          stream=HEAD + [rep("link-connect", "mail.example.org|pass|192.0.2.10:51234|"
                             "198.51.100.25:25"),
                         fil("mail-from", "alice@example.org", sid="2222bbbb0000f002"),
                         rep("link-disconnect"), rep("link-disconnect", sid="2222bbbb0000f002")])
case("unknown_sessions", "f_filter",
     ["filters=data-line", "reports=in:tx-commit,in:link-disconnect", "session=1", "message=1"],
     fixture="unknown_sessions.txt")

# ------------------------------------------------------------ addresses, identities, time
case("unix_socket_report", "f_filter",
     ["filters=mail-from", "reports=in:link-connect", "need=src,dst,rdns,fcrdns"],
     fixture="unix_report.txt")
divergent("unix_socket_local_client", "f_filter",
          ["filters=connect,mail-from", "need=src,dst,rdns,fcrdns"], "O3",
          fixture="local_client.txt")
divergent("v06_identify", "f_filter",
          ["filters=all", "reports=all", "need=identity", "silent=data-line,protocol-client,"
           "protocol-server,filter-response"], "O2", fixture="v06_sessions.txt")
divergent("tm_nsec", "f_filter", ["reports=in:protocol-client", "nsec=1"], "O1",
          fixture="tm_nsec.txt")
case("crlf_line_ends", "f_filter", ["filters=mail-from,data-line", "ctx=0"],
     stream=HEAD[:-1] + [b"config|ready\r\n", r"@wait ^register\|ready$",
                         (fil("mail-from", "alice@example.org") + "\r\n").encode(),
                         (fil("data-line", "line", tok="7e57000000000002") + "\r\n").encode(),
                         (fil("data-line", ".", tok="7e57000000000002") + "\r\n").encode()])

# ------------------------------------------------------------ lines without a callback
# smtpd sends only what was registered; 0.7 crashes on a filter request,
# protocol-*, filter-response or timeout line without a callback.
divergent("unregistered_filter_phase", "f_filter", ["filters=mail-from", "ctx=0"], "O6",
          stream=OPENING + [fil("noop", tok="7e57000000000002"),
                            fil("mail-from", "bob@example.org", tok="7e57000000000003")])
divergent("unregistered_timeout_report", "f_filter", ["filters=mail-from", "ctx=0"], "O6",
          stream=OPENING + [rep("timeout"), rep("protocol-client", "QUIT"),
                            fil("mail-from", "bob@example.org", tok="7e57000000000003")])
# Reports 0.7 checks for a NULL callback: ignored by both.
case("unregistered_null_checked_reports", "f_filter", ["filters=mail-from", "ctx=0"],
     stream=OPENING + [rep("link-connect", "x|pass|192.0.2.1:1|192.0.2.2:25"),
                       rep("link-identify", "EHLO|x"), rep("link-tls", "TLSv1.3:x:256"),
                       rep("tx-begin", "0000000a"), rep("tx-mail", "0000000a|ok|a@b"),
                       rep("tx-rcpt", "0000000a|ok|c@d"), rep("tx-envelope", "0000000a|0000000a00000001"),
                       rep("tx-data", "0000000a|ok"), rep("tx-commit", "0000000a|10"),
                       rep("link-greeting", "mx"), rep("link-disconnect"),
                       fil("mail-from", "bob@example.org", tok="7e57000000000003")])
divergent("unregistered_link_auth", "f_filter", ["filters=mail-from", "ctx=0"], "O15",
          stream=OPENING + [rep("link-auth", "pass|alice", ver="0.7"),
                            fil("mail-from", "bob@example.org", tok="7e57000000000003")])

# ------------------------------------------------------------ the asynchronous filter
case("async_v06", "f_async", fixture="async_v06.txt", loop="libevent")
case("async_v04", "f_async", fixture="async_v04.txt")
divergent("async_token_after_report", "f_async", [], "O4", fixture="async_token.txt")
case("async_cancelled_at_disconnect", "f_async", fixture="async_cancel.txt")

# ------------------------------------------------------------ end of input
divergent("eof_flushes_answers", "f_filter",
          ["filters=data-line", "dataline=repeat:2000", "silent=data-line"], "O10",
          fixture="eof_flush_large.txt", summary=True, read_delay=300, timeout=30)
divergent("eof_partial_line", "f_filter", ["filters=mail-from", "ctx=0"], "O13",
          stream=OPENING + [fil("mail-from", "bob@example.org",
                                tok="7e57000000000002").encode()])
divergent("eof_in_message", "f_filter", ["filters=mail-from,data-line", "ctx=0"], "O17",
          stream=OPENING + [fil("data-line", "Subject: cut short", tok="7e57000000000002"),
                            r"@wait ^filter-dataline\|"])
# smtpd accepts client lines of up to SMTP_LINE_MAX (65535) bytes and
# passes them on as data-line requests: 0.7's 64 KiB buffer takes such a
# line, with what follows it, for the end of input.
divergent("long_line_smtpd_max", "f_filter", ["filters=mail-from,data-line", "ctx=0",
                                              "silent=data-line"], "O9",
          stream=OPENING + [fil("data-line", "x" * 65535, tok="7e57000000000002"),
                            fil("data-line", ".", tok="7e57000000000002")], summary=True)
# Longer than anything smtpd sends: refused, whether its newline comes in
# the same read or not at all.
divergent("long_line_70k", "f_filter", EVERYTHING, "O9",
          stream=OPENING + [fil("data-line", "x" * 70000, tok="7e57000000000002")])
divergent("long_line_200k_unterminated", "f_filter", EVERYTHING, "O9",
          stream=OPENING + [b"report|0.6|" + b"1" * 200000])
# 0.7's io layer printf()s traces to stdout, the protocol pipe, when
# IO_DEBUG is set (stdio-buffered: they appear in 4 KiB pieces).
divergent("io_debug_env", "f_filter", ALL + ["ctx=0", "silent=protocol-client,protocol-server,"
                                             "filter-response"], "O16",
          fixture="v06_sessions.txt", env={"IO_DEBUG": "1"})

# ------------------------------------------------------------ bad input
# Each: a request answered, then one bad line; the filter must exit 1 with
# libopensmtpd's one-line message, the bad line quoted, and no other output.


def bad(name, line, compat=None):
    args = EVERYTHING
    stream = OPENING + [line]
    if compat:
        divergent("bad_" + name, "f_filter", args, compat, stream=stream)
    else:
        case("bad_" + name, "f_filter", args, stream=stream)


bad("no_field", "hello")
bad("empty_line", "")
bad("unknown_type", "filter-result|%s|7e57000000000001|proceed" % S1)
bad("config_no_value", "config|subsystem")
bad("config_session_timeout", "config|smtp-session-timeout|5 minutes")
bad("config_session_timeout_negative", "config|smtp-session-timeout|-1")
bad("major_1", "report|1.0|%s|smtp-in|link-disconnect|%s" % (TS, S1))
bad("version_letters", "report|a.b|%s|smtp-in|link-disconnect|%s" % (TS, S1))
bad("version_no_minor", "report|0.|%s|smtp-in|link-disconnect|%s" % (TS, S1))
bad("version_only", "report|0.6")
bad("timestamp_no_dot", "report|0.6|1764652000|smtp-in|link-disconnect|%s" % S1)
bad("timestamp_negative", "report|0.6|-1.000000|smtp-in|link-disconnect|%s" % S1)
bad("missing_direction", "report|0.6|%s" % TS)
bad("direction", "report|0.6|%s|smtp-sideways|link-disconnect|%s" % (TS, S1))
bad("missing_phase", "report|0.6|%s|smtp-in" % TS)
bad("phase", "report|0.6|%s|smtp-in|tx-reset|%s|0000000a" % (TS, S1))
bad("filter_report_event", "report|0.6|%s|smtp-in|filter-report|%s|builtin|x|y" % (TS, S1))
bad("missing_reqid", "report|0.6|%s|smtp-in|link-disconnect" % TS)
bad("reqid", "report|0.6|%s|smtp-in|link-disconnect|zz11aaaa0000f001" % TS)
bad("reqid_too_long", "report|0.6|%s|smtp-in|link-disconnect|11111aaaa0000f001f" % TS)
bad("token", fil("mail-from", "a@b", tok="7e5700000000000g"))
bad("token_no_params", "filter|0.6|%s|smtp-in|data|%s|7e57000000000002" % (TS, S1))
bad("filter_smtp_out", "filter|0.6|%s|smtp-out|data|%s|7e57000000000002|" % (TS, S1))
bad("report_of_filter_phase", rep("mail-from", "a@b"))
bad("filter_of_report_event", fil("tx-begin", "0000000a"))
bad("connect_missing_address", fil("connect", "mail.example.org", tok="7e57000000000002"))
bad("connect_address_with_port", fil("connect", "x|192.0.2.10:25", tok="7e57000000000002"),
    "O14")
bad("connect_ipv6_unclosed", fil("connect", "x|[2001:db8::1", tok="7e57000000000002"), "O14")
bad("link_connect_missing_fcrdns", rep("link-connect", "mail.example.org"))
bad("link_connect_missing_src", rep("link-connect", "mail.example.org|pass"))
bad("link_connect_missing_dst", rep("link-connect", "mail.example.org|pass|192.0.2.10:25"))
bad("link_connect_fcrdns", rep("link-connect", "x|maybe|192.0.2.10:25|192.0.2.1:25"))
bad("link_connect_address", rep("link-connect", "x|pass|192.0.2.300:25|192.0.2.1:25"), "O14")
bad("link_connect_port", rep("link-connect", "x|pass|192.0.2.10:65536|192.0.2.1:25"), "O14")
bad("link_connect_no_port", rep("link-connect", "x|pass|192.0.2.10|192.0.2.1:25"), "O14")
bad("tx_begin_msgid", rep("tx-begin", "0a1b2c3g"))
bad("tx_begin_msgid_33_bits", rep("tx-begin", "10a1b2c3d"))
bad("tx_mail_missing_address", rep("tx-mail", "0a1b2c3d"))
bad("tx_mail_missing_status", rep("tx-mail", "0a1b2c3d|ok"))
bad("tx_mail_status", rep("tx-mail", "0a1b2c3d|fine|alice@example.org"), "O14")
bad("tx_rcpt_v05_order_in_v06", rep("tx-rcpt", "0a1b2c3d|bob@example.net|ok"), "O14")
bad("tx_envelope_evpid", rep("tx-envelope", "0a1b2c3d|xyz"))
bad("tx_data_status", rep("tx-data", "0a1b2c3d|perhaps"), "O14")
bad("tx_commit_size", rep("tx-commit", "0a1b2c3d|-5"))
bad("tx_commit_size_33_bits", rep("tx-commit", "0a1b2c3d|4294967296"))
bad("tx_rollback_msgid", rep("tx-rollback", "0a1b2c3d|x"), "O14")

# ------------------------------------------------------------ extensions (ours only)
EXT = ["rewrite.helo=helo.{}", "rewrite.mail-from=<{}.rewritten>",
       "rewrite.rcpt-to=<postmaster@example.net>", "need=identity,mailfrom"]
for v in ("04", "06", "07"):
    case("ext_v%s" % v, "f_ext", EXT, fixture="ext_v%s.txt" % v, flags=["ours-only"])
