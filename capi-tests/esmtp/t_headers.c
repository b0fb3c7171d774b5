/* Header processing: smtp_set_header / smtp_set_header_option and what the
   library emits (the server transcript is the main output).

   usage: t_headers HOST:PORT mode=NAME [monitor=2]
   Every mode builds one message to rcpt1/rcpt2 and sends it.  Modes that
   would crash the original library live in t_crash.c.  */
#include "common.h"

static smtp_message_t m;
static const char *text;
static const char *from = "sender@example.org";

static const time_t other_date = 1234567890;   /* 2009-02-13 23:31:30 UTC */

static void mode_none (void)
{
  /* No headers at all: Date, From and Message-Id are generated.  */
  text = "\r\nBody of a message without headers.\r\n";
}

static void mode_none_norp (void)
{
  /* No headers and no reverse path: From defaults to "<>".  */
  text = "\r\nNo reverse path.\r\n";
  from = NULL;
}

static void mode_api (void)
{
  /* Message without headers, all values from the API.  */
  text = "\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "Date", &fixed_date));
  CHECK_INT (smtp_set_header (m, "Message-Id", "api-id@example.org"));
  CHECK_INT (smtp_set_header (m, "From", "From Phrase", "from@example.org"));
  CHECK_INT (smtp_set_header (m, "To", NULL, "to1@example.org"));
  CHECK_INT (smtp_set_header (m, "To", "To Two", "to2@example.org"));
  CHECK_INT (smtp_set_header (m, "Cc", NULL, "cc@example.org"));
  CHECK_INT (smtp_set_header (m, "Bcc", "Blind", "bcc@example.org"));
  CHECK_INT (smtp_set_header (m, "Reply-To", NULL, "reply@example.org"));
  CHECK_INT (smtp_set_header (m, "Sender", "The Sender", "sender@example.org"));
  CHECK_INT (smtp_set_header (m, "Subject", "api subject"));
  CHECK_INT (smtp_set_header (m, "X-Mailer", "t_headers"));
  CHECK_INT (smtp_set_header (m, "X-Empty", NULL));
  CHECK_INT (smtp_set_header (m, "Disposition-Notification-To", NULL, NULL));
}

static void mode_dups (void)
{
  /* Duplicates in the message itself: first wins unless PRESERVE.  */
  fixed_headers (m);
  text =
    "Date: Mon, 01 Jan 2001 00:00:00 +0000\r\n"
    "From: first@example.org\r\n"
    "To: to-first@example.org\r\n"
    "Subject: first subject\r\n"
    "Cc: cc-first@example.org\r\n"
    "Return-Path: <rp@example.org>\r\n"
    "Received: from a by b; first\r\n"
    "Received: from c by d; second\r\n"
    "X-Foo: one\r\n"
    "Content-Type: text/plain\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/html\r\n"
    "X-Foo: two\r\n"
    "Original-Recipient: rfc822;orig@example.org\r\n"
    "Resent-To: resent1@example.org\r\n"
    "Resent-To: resent2@example.org\r\n"
    "Resent-Reply-To: rrt@example.org\r\n"
    "Message-Id: <msg-first@example.org>\r\n"
    "Date: Tue, 02 Jan 2001 00:00:00 +0000\r\n"
    "From: second@example.org\r\n"
    "To: to-second@example.org\r\n"
    "Cc: cc-second@example.org\r\n"
    "Bcc: bcc@example.org\r\n"
    "Bcc: bcc2@example.org\r\n"
    "Message-Id: <msg-second@example.org>\r\n"
    "Reply-To: r1@example.org\r\n"
    "Reply-To: r2@example.org\r\n"
    "Sender: s1@example.org\r\n"
    "Sender: s2@example.org\r\n"
    "Subject: second subject\r\n"
    "Disposition-Notification-To: d1@example.org\r\n"
    "Disposition-Notification-To: d2@example.org\r\n"
    "return-path: <lower@example.org>\r\n"
    "no colon in this line\r\n"
    "\r\n"
    "Body.\r\n";
}

static void mode_dups_api (void)
{
  /* A header set through the API counts as "seen" once the message has it:
     the message's first instance wins, later ones are dropped.  */
  fixed_headers (m);
  CHECK_INT (smtp_set_header (m, "Subject", "api subject"));
  CHECK_INT (smtp_set_header (m, "X-Foo", "api foo"));
  text =
    "Subject: msg subject 1\r\n"
    "X-Foo: msg foo 1\r\n"
    "Subject: msg subject 2\r\n"
    "X-Foo: msg foo 2\r\n"
    "X-Bar: bar 1\r\n"
    "X-Bar: bar 2\r\n"
    "\r\n"
    "Body.\r\n";
}

static void mode_override (void)
{
  CHECK_INT (smtp_set_header (m, "Date", &other_date));
  CHECK_INT (smtp_set_header (m, "Message-Id", "override-id@example.org"));
  CHECK_INT (smtp_set_header (m, "From", NULL, "api-from@example.org"));
  CHECK_INT (smtp_set_header (m, "To", "API To", "api-to@example.org"));
  CHECK_INT (smtp_set_header (m, "Subject", "api subject"));
  CHECK_INT (smtp_set_header (m, "X-Mailer", "api mailer"));
  CHECK_INT (smtp_set_header (m, "X-NotOverridden", "api value"));
  CHECK_INT (smtp_set_header_option (m, "Date", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "Message-Id", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "From", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "To", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "subject", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "X-Mailer", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "X-Mailer", Hdr_OVERRIDE, 0));
  CHECK_INT (smtp_set_header_option (m, "X-Mailer", Hdr_OVERRIDE, 5));
  text =
    "Date: Mon, 01 Jan 2001 00:00:00 +0000\r\n"
    "Message-Id: <msg-id@example.org>\r\n"
    "From: msg-from@example.org\r\n"
    "To: msg-to@example.org\r\n"
    "Subject: msg subject\r\n"
    "X-Mailer: msg mailer\r\n"
    "X-NotOverridden: msg value\r\n"
    "\r\n"
    "Body.\r\n";
}

static void mode_prohibit (void)
{
  fixed_headers (m);
  CHECK_INT (smtp_set_header_option (m, "Subject", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "X-Mailer", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "To", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "Bcc", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "X-Unset", Hdr_PROHIBIT, 0));
  CHECK_INT (smtp_set_header_option (m, "Date", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "From", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header (m, "Subject", "api subject after prohibit"));
  CHECK_INT (smtp_set_header_option (m, "Subject", Hdr_OVERRIDE, 1));
  text =
    "Subject: msg subject\r\n"
    "X-Mailer: msg mailer\r\n"
    "To: msg-to@example.org\r\n"
    "Bcc: hidden@example.org\r\n"
    "X-Unset: kept\r\n"
    "X-Other: kept\r\n"
    "\r\n"
    "Body.\r\n";
}

static void mode_prohibit_msgid (void)
{
  /* PROHIBIT Message-Id strips the message's one, yet one is generated. */
  CHECK_INT (smtp_set_header (m, "Date", &fixed_date));
  CHECK_INT (smtp_set_header_option (m, "Message-Id", Hdr_PROHIBIT, 1));
  text = "Message-Id: <in-message@example.org>\r\nSubject: x\r\n\r\nBody.\r\n";
}

static void mode_prohibit_msgid_absent (void)
{
  /* PROHIBIT Message-Id, message has none: one is still generated. */
  CHECK_INT (smtp_set_header (m, "Date", &fixed_date));
  CHECK_INT (smtp_set_header_option (m, "Message-Id", Hdr_PROHIBIT, 1));
  text = "Subject: x\r\n\r\nBody.\r\n";
}

static void mode_option_errors (void)
{
  fixed_headers (m);
  CHECK_INT (smtp_set_header_option (m, "Return-Path", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "Return-Path", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "Content-Type", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "Content-Type", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "MIME-Version", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "Resent-From", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "Received", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "Original-Recipient", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "X-Thing", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_set_header_option (m, "X-Thing", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header (m, "X-Thing", "value"));
  CHECK_INT (smtp_set_header_option (m, "X-Thing", Hdr_PROHIBIT, 0));
  CHECK_INT (smtp_set_header_option (m, "X-Thing", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header (m, "X-Thing", "value"));
  CHECK_INT (smtp_set_header_option (m, "X-Other", (enum header_option) 2, 1));
  CHECK_INT (smtp_set_header (m, "Subject", "one"));
  CHECK_INT (smtp_set_header (m, "Subject", "two"));
  CHECK_INT (smtp_set_header (m, "Message-Id", "a@b"));
  CHECK_INT (smtp_set_header (m, "Sender", NULL, "s1@example.org"));
  CHECK_INT (smtp_set_header (m, "Sender", NULL, "s2@example.org"));
  CHECK_INT (smtp_set_header (m, "Original-Recipient", "x"));
  CHECK_INT (smtp_set_header (m, "Received", "x"));
  CHECK_INT (smtp_set_header (m, "MIME-Version", "1.0"));
  CHECK_INT (smtp_set_header (m, "Resent-Reply-To", NULL, "x@example.org"));
  text = "X-Thing: msg thing\r\nContent-Type: text/plain\r\n\r\nBody.\r\n";
}

static void mode_lists (void)
{
  fixed_headers (m);
  text = "Subject: lists\r\n\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "From", NULL, "from1@example.org"));
  CHECK_INT (smtp_set_header (m, "From", "Second From", "from2@example.org"));
  CHECK_INT (smtp_set_header (m, "To", NULL, "to1@example.org"));
  CHECK_INT (smtp_set_header (m, "To", "Two", "to2@example.org"));
  CHECK_INT (smtp_set_header (m, "To", "Three \"quoted\"", "to3@example.org"));
  CHECK_INT (smtp_set_header (m, "Cc", "C One", "cc1@example.org"));
  CHECK_INT (smtp_set_header (m, "Cc", NULL, "cc2@example.org"));
  CHECK_INT (smtp_set_header (m, "Bcc", NULL, "bcc1@example.org"));
  CHECK_INT (smtp_set_header (m, "Bcc", NULL, "bcc2@example.org"));
  CHECK_INT (smtp_set_header (m, "Reply-To", NULL, "rt1@example.org"));
  CHECK_INT (smtp_set_header (m, "Reply-To", "R Two", "rt2@example.org"));
  CHECK_INT (smtp_set_header (m, "Sender", NULL, "sender-only@example.org"));
  CHECK_INT (smtp_set_header (m, "Disposition-Notification-To", "DNT", "dnt@example.org"));
}

static void mode_from_default (void)
{
  /* From: both NULL keeps the default (reverse path); phrase only for the
     default From is not possible.  */
  fixed_headers (m);
  text = "Subject: from default\r\n\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "From", NULL, NULL));
  CHECK_INT (smtp_set_header (m, "From", NULL, NULL));
  CHECK_INT (smtp_set_header (m, "Disposition-Notification-To", NULL, NULL));
}

static void mode_to_generate (void)
{
  /* To with NULL/NULL: generated from the envelope recipients.  */
  fixed_headers (m);
  text = "Subject: generated To\r\n\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "To", NULL, NULL));
}

static void mode_to_reset (void)
{
  /* To values, then NULL/NULL: back to "generate from envelope".  */
  fixed_headers (m);
  text = "Subject: To reset\r\n\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "To", NULL, "explicit@example.org"));
  CHECK_INT (smtp_set_header (m, "To", NULL, NULL));
}

static void mode_cc_null (void)
{
  /* Cc created with a NULL mailbox: the original emits "Cc: " without a
     line end and aborts the transfer (ERANGE).  */
  fixed_headers (m);
  text = "Subject: cc null\r\n\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "Cc", "Phrase Only", NULL));
}

static void mode_spelling (void)
{
  fixed_headers (m);
  text = "Subject: spelling\r\n\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "x-CUSTOM-header", "v1"));
  CHECK_INT (smtp_set_header (m, "X-Custom-Header", "v2"));
  CHECK_INT (smtp_set_header (m, "IN-REPLY-TO", "<x@example.org>"));
  CHECK_INT (smtp_set_header (m, "subject", "api subject (message has one)"));
  CHECK_INT (smtp_set_header (m, "keywords", "a, b"));
  CHECK_INT (smtp_set_header (m, "X-Long", "a value with\r\n continuation"));
}

static void mode_date_twice (void)
{
  text = "Subject: date twice\r\n\r\nBody.\r\n";
  CHECK_INT (smtp_set_header (m, "Date", &other_date));
  CHECK_INT (smtp_set_header (m, "Date", &fixed_date));
  CHECK_INT (smtp_set_header (m, "Message-Id", FIXED_MSGID));
  CHECK_INT (smtp_set_header (m, "Message-Id", "second@example.org"));
}

static void mode_msgid_generate (void)
{
  /* Message-Id NULL: generated (normalised by the runner).  */
  CHECK_INT (smtp_set_header (m, "Date", &fixed_date));
  CHECK_INT (smtp_set_header (m, "Message-Id", NULL));
  text = "Subject: generated id\r\n\r\nBody.\r\n";
}

static void mode_resent (void)
{
  fixed_headers (m);
  CHECK_INT (smtp_set_resent_headers (m, 1));
  CHECK_INT (smtp_set_resent_headers (m, 0));
  text =
    "Resent-From: rf1@example.org\r\n"
    "Resent-Date: Mon, 01 Jan 2001 00:00:00 +0000\r\n"
    "Resent-From: rf2@example.org\r\n"
    "Resent-Message-Id: <r1@example.org>\r\n"
    "Resent-Reply-To: stripped@example.org\r\n"
    "Resent-Sender: rs@example.org\r\n"
    "Resent-Cc: rc@example.org\r\n"
    "Resent-Bcc: rb@example.org\r\n"
    "Subject: resent\r\n"
    "\r\n"
    "Body.\r\n";
}

static void mode_continuation (void)
{
  fixed_headers (m);
  text =
    "To: a@example.org,\r\n"
    " b@example.org\r\n"
    "Subject: folded\r\n"
    "\tsubject continuation\r\n"
    "To: c@example.org,\r\n"
    "\td@example.org\r\n"
    "X-Folded: x\r\n"
    "  y\r\n"
    "   z\r\n"
    "\r\n"
    " body starting with space\r\n";
}

static const struct { const char *name; void (*fn) (void); } modes[] = {
  { "none", mode_none }, { "none_norp", mode_none_norp }, { "api", mode_api },
  { "dups", mode_dups }, { "dups_api", mode_dups_api },
  { "override", mode_override }, { "prohibit", mode_prohibit },
  { "prohibit_msgid", mode_prohibit_msgid },
  { "prohibit_msgid_absent", mode_prohibit_msgid_absent },
  { "option_errors", mode_option_errors }, { "lists", mode_lists },
  { "from_default", mode_from_default }, { "to_generate", mode_to_generate },
  { "to_reset", mode_to_reset }, { "cc_null", mode_cc_null },
  { "spelling", mode_spelling }, { "date_twice", mode_date_twice },
  { "msgid_generate", mode_msgid_generate }, { "resent", mode_resent },
  { "continuation", mode_continuation },
  { NULL, NULL }
};

int main (int argc, char **argv)
{
  smtp_session_t s;
  const char *mode;
  int i;

  init_test (argc, argv);
  mode = opt_str ("mode", "");
  s = new_session (argv[1]);
  if (opt_int ("monitor", 0))
    {
      g_monitor_silent = 0;
      smtp_set_monitorcb (s, monitor_cb, &g_event_arg, 1);
    }
  m = smtp_add_message (s);
  reg (m, "m1");
  reg (smtp_add_recipient (m, "rcpt1@example.org"), "r1");
  reg (smtp_add_recipient (m, "rcpt2@example.org"), "r2");
  for (i = 0; modes[i].name; i++)
    if (strcmp (modes[i].name, mode) == 0)
      break;
  if (modes[i].name == NULL)
    {
      printf ("unknown mode %s\n", mode);
      return 2;
    }
  printf ("--- mode %s\n", mode);
  modes[i].fn ();
  if (from)
    smtp_set_reverse_path (m, from);
  smtp_set_message_str (m, (void *) text);
  run_session (s);
  print_all_statuses (s);
  printf ("smtp_destroy_session=%d\n", smtp_destroy_session (s));
  return 0;
}
