/* smtp_version, smtp_strerror and smtp_set_timeout (no server needed).  */
#include "common.h"

static void version (size_t len, int what)
{
  char buf[32];
  int r;
  memset (buf, '#', sizeof buf);
  buf[sizeof buf - 1] = '\0';
  r = smtp_version (buf, len, what);
  printf ("smtp_version(len=%zu, what=%d) -> %d buf=", len, what, r);
  put_str (buf);
  printf ("\n");
}

static void strerr (int code, size_t len)
{
  char buf[300];
  char *r;
  memset (buf, '#', sizeof buf);
  buf[sizeof buf - 1] = '\0';
  r = smtp_strerror (code, buf, len);
  printf ("smtp_strerror(%d, len=%zu) -> %s", code, len,
          r == NULL ? "NULL" : r == buf ? "buf" : "other");
  if (r)
    {
      printf (" ");
      put_str (r);
    }
  printf ("\n");
}

int main (int argc, char **argv)
{
  smtp_session_t s;
  int what, code;
  size_t len;
  static const long values[] = { 1, 10, 999, 1000, 1001, 59999, 120000,
                                 300000, 300001, 86400000, 0, -1 };
  static const char *names[] = { "GREETING", "ENVELOPE", "DATA", "TRANSFER",
                                 "DATA2" };
  unsigned i;

  init_test (argc, argv);
  for (what = Ver_VERSION; what <= Ver_LT_VERSION; what++)
    for (len = 1; len <= 8; len++)
      version (len, what);
  version (31, Ver_VERSION);

  strerr (-111, 256);
  strerr (-1, 256);
  strerr (-12, 256);
  strerr (-999999, 256);
  for (code = 0; code <= 22; code++)
    strerr (code, 256);
  strerr (1000, 256);
  strerr (3, 1);
  strerr (3, 2);
  strerr (3, 4);
  strerr (3, 30);
  strerr (3, 31);
  strerr (3, 32);
  strerr (0, 3);
  strerr (0, 9);
  strerr (25, 4);
  strerr (-111, 5);
  strerr (16, 5);

  s = smtp_create_session ();
  for (what = Timeout_GREETING; what <= Timeout_DATA2; what++)
    for (i = 0; i < sizeof values / sizeof values[0]; i++)
      {
        long plain = smtp_set_timeout (s, what, values[i]);
        long ovr = smtp_set_timeout (s, what | Timeout_OVERRIDE_RFC2822_MINIMUM,
                                     values[i]);
        printf ("smtp_set_timeout(%s, %ld) -> %ld, with OVERRIDE -> %ld\n",
                names[what], values[i], plain, ovr);
      }
  printf ("smtp_set_timeout(GREETING, LONG_MAX) -> %ld\n",
          smtp_set_timeout (s, Timeout_GREETING, 0x7fffffffffffffffL));
  smtp_destroy_session (s);
  return 0;
}
