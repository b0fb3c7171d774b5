/* The README demo's filter: written against libopensmtpd 0.7's API only.
 * It passes every message line through, refuses recipients whose address
 * starts with "spam", and tags the subject.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <opensmtpd.h>

static void rcptto (struct osmtpd_ctx *ctx, const char *rcpt)
{
  if (strncmp (rcpt, "spam", 4) == 0)
    osmtpd_filter_reject (ctx, 550, "No such user: %s", rcpt);
  else
    osmtpd_filter_proceed (ctx);
}

static void dataline (struct osmtpd_ctx *ctx, const char *line)
{
  if (strncmp (line, "Subject: ", 9) == 0)
    osmtpd_filter_dataline (ctx, "Subject: [filtered] %s", line + 9);
  else
    osmtpd_filter_dataline (ctx, "%s", line);
}

static void commit (struct osmtpd_ctx *ctx)
{
  osmtpd_filter_proceed (ctx);
}

int main (void)
{
  osmtpd_register_filter_rcptto (rcptto);
  osmtpd_register_filter_dataline (dataline);
  osmtpd_register_filter_commit (commit);
  osmtpd_run ();
  return 0;
}
