/* Generic send driver: one session, N messages, configurable from the
   command line so that one program covers many server scenarios.

   usage: t_send HOST:PORT [key=value ...]
     from=ADDR|NONE     reverse path (NONE: never call smtp_set_reverse_path)
     rcpt=A,B,...       recipients of every message ("" = none)
     rcptK=A,B,...      recipients of message K (1-based), overrides rcpt
     msgs=N             number of messages (default 1)
     msg=NAME           message text (see messages[] below; default std)
     lines=N            number of 100-byte lines of msg=big (default 300)
     src=str|fp|cb      message source: smtp_set_message_str, _fp (tmpfile),
                        or a custom callback returning chunk=N byte pieces
     nohdrs=1           do not set the fixed Date/Message-Id headers
     hostname=uname     smtp_set_hostname(s, NULL)
     monitor=1|2        install the monitor callback (2: with headers)
     hide_msgid_len=1   hide the MESSAGEDATA length of a generated Message-Id
     noevents=1         no event callback (library defaults)
     quiet_data=1       count MESSAGEDATA events instead of printing them
                        (2: only say whether there were any)
     timeout=MS         all timeouts, with Timeout_OVERRIDE_RFC2822_MINIMUM
     greeting_timeout=MS, eod_timeout=MS
                        then Timeout_GREETING or Timeout_DATA2 alone
     require_all=0|1    smtp_option_require_all_recipients
     body=7bit|8bit|binary          smtp_8bitmime_set_body
     size=N             smtp_size_set_estimate
     ret=full|hdrs envid=STR        DSN message options (%HH = byte 0xHH)
     notify=never|success,failure,delay  orcpt=TYPE;ADDR   DSN rcpt options
     by=TIME,MODE,TRACE smtp_deliverby_set_mode
     etrn=DOM,@DOM,...  ETRN nodes (leading @ = option '@')
     starttls=0|1|2     smtp_starttls_enable
     runs=N             call smtp_start_session N times (default 1)
     reset=1            reset all message/recipient statuses between runs
     ev<N>=V            set the out-parameter of event N to V  */
#include "common.h"

/* MSG keeps the length so that texts may contain NUL bytes.  */
#define MSG(name, text) { name, text, sizeof text - 1 }
static const struct { const char *name; const char *text; size_t len; } messages[] = {
  MSG ("std",
    "From: Sender <sender@example.org>\r\n"
    "To: rcpt1@example.org\r\n"
    "Subject: test message\r\n"
    "\r\n"
    "Hello world.\r\n"
    "Second line.\r\n"),
  MSG ("noheaders", "\r\nBody only, no headers.\r\n"),
  MSG ("hdronly", "Subject: only headers, no body\r\nX-Test: 1\r\n"),
  MSG ("empty", ""),
  MSG ("dots",
    "Subject: dots\r\n"
    ".X-Dot-Header: header starting with a dot\r\n"
    "\r\n"
    ".\r\n"
    "..\r\n"
    ".leading dot\r\n"
    "middle . dot\r\n"
    " .space then dot\r\n"
    "bare lf\n.dot after bare lf\r\n"
    ". \r\n"
    "."),
  MSG ("crlf",
    "Subject: crlf\nX-After-Bare-LF: yes\r\n"
    "\r\n"
    "line1\nline2\r\n"
    "cr only\rhere\r\n"
    "\r\n"
    "\r\n"
    "last line without CRLF"),
  MSG ("crend", "Subject: cr end\r\n\r\nends with CR\r"),
  MSG ("8bit", "Subject: 8bit\r\n\r\nCaf\xc3\xa9 na\xc3\xafve \xff\r\n"),
  MSG ("cont",
    "Subject: folded\r\n"
    " continuation line\r\n"
    "\tsecond continuation\r\n"
    "X-Other: x\r\n"
    "\r\n"
    "body\r\n"),
  /* msg_nextc() peeks at the byte after a header line as a (signed) char:
     0xFF there looks like EOF.  */
  MSG ("ffhdr", "Subject: a\r\n\xffX-Bad: b\r\nX-After: c\r\n\r\nbody\r\n"),
  MSG ("nul", "Subject: nul\r\n\r\nbefore\0after\r\n"),
  { NULL, NULL, 0 }
};

static char *big_text (int which, int nlines)
{
  /* big: 300 lines of 100 characters (30 kB) - several 8192-byte fp reads,
     several 2048-byte socket writes.  long: one 5000-character line.
     lines=N: N such lines instead of 300.  */
  char *t = malloc (10000 + 110 * (size_t) nlines), *p = t;
  int i, j;
  p += sprintf (p, "Subject: %s\r\n\r\n", which ? "long line" : "big");
  if (which)
    {
      for (j = 0; j < 5000; j++)
        *p++ = 'a' + j % 26;
      p += sprintf (p, "\r\n");
    }
  else
    for (i = 0; i < nlines; i++)
      {
        p += sprintf (p, "%s%04d ", i % 7 == 0 ? "." : "", i);
        for (j = 0; j < 93; j++)
          *p++ = 'A' + (i + j) % 26;
        p += sprintf (p, "\r\n");
      }
  *p = '\0';
  return t;
}

/* Custom message callback: returns the text in pieces of `chunk` bytes.
   *ctx is malloc'ed because libESMTP releases it with free().  */
struct piece { const char *text; int chunk; };
struct cbctx { size_t pos; };

static const char *piece_cb (void **ctx, int *len, void *arg)
{
  struct piece *pc = arg;
  struct cbctx *c = *ctx;
  size_t left;
  if (c == NULL)
    {
      c = calloc (1, sizeof *c);
      *ctx = c;
      printf ("message callback: new ctx, len %s\n", len ? "non-NULL" : "NULL");
    }
  if (len == NULL)
    {
      printf ("message callback: rewind\n");
      c->pos = 0;
      return NULL;
    }
  left = strlen (pc->text) - c->pos;
  *len = left < (size_t) pc->chunk ? (int) left : pc->chunk;
  c->pos += *len;
  return pc->text + c->pos - *len;
}

/* "%HH" in option values stands for the byte 0xHH (argv stays ASCII). */
static char *pct_decode (const char *v)
{
  char *out = malloc (strlen (v) + 1), *p = out;
  unsigned int byte;
  while (*v)
    if (v[0] == '%' && sscanf (v + 1, "%2x", &byte) == 1)
      {
        *p++ = (char) byte;
        v += 3;
      }
    else
      *p++ = *v++;
  *p = '\0';
  return out;
}

static void print_etrn_cb (smtp_etrn_node_t node, int option, const char *domain,
                           void *arg)
{
  char label[64];
  UNUSED (arg);
  printf ("  etrn node %s option=%d domain=", rname (node), option);
  put_str (domain);
  printf ("\n");
  snprintf (label, sizeof label, "    status %s", rname (node));
  print_status (label, smtp_etrn_node_status (node));
}

static void reset_rcpt_cb (smtp_recipient_t r, const char *mailbox, void *arg)
{
  UNUSED (mailbox);
  UNUSED (arg);
  printf ("  smtp_recipient_reset_status(%s)=%d\n", rname (r),
          smtp_recipient_reset_status (r));
}

static void reset_msg_cb (smtp_message_t m, void *arg)
{
  UNUSED (arg);
  printf ("  smtp_message_reset_status(%s)=%d\n", rname (m),
          smtp_message_reset_status (m));
  smtp_enumerate_recipients (m, reset_rcpt_cb, NULL);
}

static void add_rcpts (smtp_message_t m, int mi, const char *list)
{
  char *copy, *tok, *save = NULL;
  static int nr;
  const char *notify = opt_str ("notify", NULL);
  const char *orcpt = opt_str ("orcpt", NULL);
  if (list == NULL || *list == '\0')
    return;
  copy = strdup (list);
  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    {
      smtp_recipient_t r = smtp_add_recipient (m, tok);
      reg (r, "r%d", ++nr);
      printf ("add_recipient m%d %s -> %s\n", mi, tok, rname (r));
      if (notify)
        {
          int f = 0;
          if (strstr (notify, "never")) f = Notify_NEVER;
          if (strstr (notify, "success")) f |= Notify_SUCCESS;
          if (strstr (notify, "failure")) f |= Notify_FAILURE;
          if (strstr (notify, "delay")) f |= Notify_DELAY;
          printf ("  smtp_dsn_set_notify(%d)=%d\n", f, smtp_dsn_set_notify (r, f));
        }
      if (orcpt)
        {
          char *o = pct_decode (orcpt), *semi = strchr (o, ';');
          if (semi)
            *semi++ = '\0';
          printf ("  smtp_dsn_set_orcpt=%d\n",
                  smtp_dsn_set_orcpt (r, o, semi ? semi : ""));
          free (o);
        }
    }
  free (copy);
}

int main (int argc, char **argv)
{
  smtp_session_t s;
  const char *msgname, *src, *v, *text = NULL;
  size_t textlen = 0;
  char *dyn = NULL;
  FILE *fp = NULL;
  struct piece pc;
  int nmsgs, runs, i;

  init_test (argc, argv);
  s = new_session (argv[1]);

  if (strcmp (opt_str ("hostname", ""), "uname") == 0)
    printf ("smtp_set_hostname(NULL)=%d\n", smtp_set_hostname (s, NULL));
  if (opt_int ("noevents", 0))
    smtp_set_eventcb (s, NULL, NULL);
  if (opt_int ("quiet_data", 0))
    g_quiet_messagedata = (int) opt_int ("quiet_data", 0);
  if ((v = opt_str ("monitor", NULL)) != NULL)
    {
      g_monitor_silent = 0;
      printf ("smtp_set_monitorcb=%d\n",
              smtp_set_monitorcb (s, monitor_cb, &g_event_arg, atoi (v) - 1));
    }
  if ((v = opt_str ("timeout", NULL)) != NULL)
    short_timeouts (s, atol (v));
  if ((v = opt_str ("greeting_timeout", NULL)) != NULL)
    smtp_set_timeout (s, Timeout_GREETING | Timeout_OVERRIDE_RFC2822_MINIMUM, atol (v));
  if ((v = opt_str ("eod_timeout", NULL)) != NULL)
    smtp_set_timeout (s, Timeout_DATA2 | Timeout_OVERRIDE_RFC2822_MINIMUM, atol (v));
  if ((v = opt_str ("require_all", NULL)) != NULL)
    printf ("smtp_option_require_all_recipients(%s)=%d\n", v,
            smtp_option_require_all_recipients (s, atoi (v)));
  if ((v = opt_str ("starttls", NULL)) != NULL)
    printf ("smtp_starttls_enable(%s)=%d\n", v, smtp_starttls_enable (s, atoi (v)));
  if ((v = opt_str ("etrn", NULL)) != NULL)
    {
      char *copy = strdup (v), *tok, *save = NULL;
      int n = 0;
      for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
        {
          int option = *tok == '@' ? '@' : 0;
          smtp_etrn_node_t node = smtp_etrn_add_node (s, option, tok + (option != 0));
          reg (node, "e%d", ++n);
          printf ("smtp_etrn_add_node(%d, %s) -> %s\n", option, tok + (option != 0),
                  rname (node));
        }
      free (copy);
    }

  /* Message text and source.  */
  msgname = opt_str ("msg", "std");
  if (strcmp (msgname, "big") == 0 || strcmp (msgname, "long") == 0)
    text = dyn = big_text (strcmp (msgname, "long") == 0, (int) opt_int ("lines", 300));
  for (i = 0; text == NULL && messages[i].name; i++)
    if (strcmp (messages[i].name, msgname) == 0)
      {
        text = messages[i].text;
        textlen = messages[i].len;
      }
  if (text == NULL)
    {
      printf ("unknown msg=%s\n", msgname);
      return 2;
    }
  src = opt_str ("src", "str");
  if (strcmp (src, "fp") == 0)
    {
      fp = tmpfile ();
      fwrite (text, 1, textlen ? textlen : strlen (text), fp);
      fflush (fp);
    }
  pc.text = text;
  pc.chunk = (int) opt_int ("chunk", 7);

  nmsgs = (int) opt_int ("msgs", 1);
  for (i = 1; i <= nmsgs; i++)
    {
      char key[16];
      smtp_message_t m = smtp_add_message (s);
      reg (m, "m%d", i);
      printf ("add_message -> %s\n", rname (m));
      v = opt_str ("from", "sender@example.org");
      if (strcmp (v, "NONE") != 0)
        printf ("smtp_set_reverse_path(%s)=%d\n", v, smtp_set_reverse_path (m, v));
      snprintf (key, sizeof key, "rcpt%d", i);
      add_rcpts (m, i, opt_str (key, opt_str ("rcpt", "rcpt1@example.org,rcpt2@example.org")));
      if (!opt_int ("nohdrs", 0))
        fixed_headers (m);
      if (strcmp (src, "fp") == 0)
        printf ("smtp_set_message_fp=%d\n", smtp_set_message_fp (m, fp));
      else if (strcmp (src, "cb") == 0)
        printf ("smtp_set_messagecb=%d\n", smtp_set_messagecb (m, piece_cb, &pc));
      else
        printf ("smtp_set_message_str=%d\n", smtp_set_message_str (m, (void *) text));
      if ((v = opt_str ("body", NULL)) != NULL)
        printf ("smtp_8bitmime_set_body(%s)=%d\n", v, smtp_8bitmime_set_body (m,
                strcmp (v, "7bit") == 0 ? E8bitmime_7BIT :
                strcmp (v, "8bit") == 0 ? E8bitmime_8BITMIME : E8bitmime_BINARYMIME));
      if ((v = opt_str ("size", NULL)) != NULL)
        printf ("smtp_size_set_estimate(%s)=%d\n", v, smtp_size_set_estimate (m, strtoul (v, NULL, 10)));
      if ((v = opt_str ("ret", NULL)) != NULL)
        printf ("smtp_dsn_set_ret(%s)=%d\n", v, smtp_dsn_set_ret (m,
                strcmp (v, "full") == 0 ? Ret_FULL : Ret_HDRS));
      if ((v = opt_str ("envid", NULL)) != NULL)
        {
          char *e = pct_decode (v);
          printf ("smtp_dsn_set_envid=%d\n", smtp_dsn_set_envid (m, e));
          free (e);
        }
      if ((v = opt_str ("by", NULL)) != NULL)
        {
          long t = 0;
          int mode = 0, trace = 0;
          sscanf (v, "%ld,%d,%d", &t, &mode, &trace);
          printf ("smtp_deliverby_set_mode(%ld, %d, %d)=%d\n", t, mode, trace,
                  smtp_deliverby_set_mode (m, t, mode, trace));
        }
    }

  runs = (int) opt_int ("runs", 1);
  for (i = 1; i <= runs; i++)
    {
      if (i > 1 && opt_int ("reset", 0))
        {
          /* reset every status so that everything is sent again */
          printf ("resetting all statuses\n");
          smtp_enumerate_messages (s, reset_msg_cb, NULL);
        }
      printf ("--- run %d\n", i);
      run_session (s);
      print_all_statuses (s);
      if (opt_str ("etrn", NULL))
        smtp_etrn_enumerate_nodes (s, print_etrn_cb, NULL);
    }
  printf ("smtp_destroy_session=%d\n", smtp_destroy_session (s));
  if (fp)
    fclose (fp);
  free (dyn);
  return 0;
}
