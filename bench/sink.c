/* A minimal SMTP sink in C, so that what a client's traffic costs a server
 * (segments, wakeups, reads) can be measured without an interpreter's own
 * cost drowning it: bench/sink.py's behaviour (PIPELINING, 8BITMIME, SIZE,
 * everything accepted, TCP_QUICKACK), one connection at a time.
 *
 *   sink PORTFILE [CERT KEY [tickets]]
 *
 * Listens on 127.0.0.1 (port written to PORTFILE). With CERT and KEY it
 * offers STARTTLS, as a server that never resumes a TLS session (no
 * tickets, no session cache), or with "tickets" as one that sends two TLS
 * 1.3 tickets per handshake and keeps a session cache (TLS 1.2), as
 * OpenSSL servers do by default. On SIGTERM it prints "accepted N user U
 * sys S resumed R" (its own CPU seconds) and exits.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>

static volatile sig_atomic_t stop;
static long accepted, resumed;
static SSL_CTX *tls_ctx;
static SSL *tls; /* the connection's, after STARTTLS */

static ssize_t io_recv (int fd, char *buf, size_t n)
{
  if (tls != NULL)
    return SSL_read (tls, buf, (int) n);
  return recv (fd, buf, n, 0);
}

static ssize_t io_send (int fd, const char *buf, size_t n)
{
  if (tls != NULL)
    return SSL_write (tls, buf, (int) n);
  return send (fd, buf, n, MSG_NOSIGNAL);
}

static void on_term (int sig)
{
  (void) sig;
  stop = 1;
}

static int put (int fd, const char *s)
{
  size_t n = strlen (s);
  return io_send (fd, s, n) == (ssize_t) n ? 0 : -1;
}

/* After "220" to STARTTLS: the handshake, then the session goes on over
 * TLS. */
static int start_tls (int fd)
{
  tls = SSL_new (tls_ctx);
  if (tls == NULL || !SSL_set_fd (tls, fd) || SSL_accept (tls) != 1)
    return -1;
  resumed += SSL_session_reused (tls);
  return 0;
}

/* One session: replies to each line as it is complete, gathered into one
 * write per batch of input (what the client pipelined). */
static void session (int fd)
{
  static char in[1 << 16];
  char out[4096];
  size_t have = 0, olen;
  int data = 0, one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (put (fd, "220 sink ESMTP\r\n") < 0)
    return;
  for (;;)
    {
      ssize_t r = io_recv (fd, in + have, sizeof in - have);
      char *p, *nl;
      if (r <= 0)
        return;
      setsockopt (fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
      have += (size_t) r;
      olen = 0;
      out[0] = 0;
      p = in;
      while ((nl = memchr (p, '\n', have - (size_t) (p - in))) != NULL)
        {
          size_t len = (size_t) (nl - p) + 1;
          const char *reply = NULL;
          if (data)
            {
              if (len == 3 && p[0] == '.')
                {
                  data = 0;
                  accepted++;
                  reply = "250 2.0.0 queued\r\n";
                }
            }
          else if (strncasecmp (p, "EHLO", 4) == 0)
            reply = tls_ctx != NULL && tls == NULL
              ? "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SIZE 100000000\r\n"
              : "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n";
          else if (strncasecmp (p, "STARTTLS", 8) == 0 && tls_ctx != NULL && tls == NULL)
            {
              /* Nothing may follow STARTTLS in clear: the rest is dropped. */
              if (olen > 0 && io_send (fd, out, olen) != (ssize_t) olen)
                return;
              olen = 0;
              if (put (fd, "220 go ahead\r\n") < 0 || start_tls (fd) < 0)
                return;
              have = 0;
              p = in;
              break;
            }
          else if (strncasecmp (p, "DATA", 4) == 0)
            {
              data = 1;
              reply = "354 go ahead\r\n";
            }
          else if (strncasecmp (p, "QUIT", 4) == 0)
            {
              if (olen + 9 < sizeof out)
                memcpy (out + olen, "221 bye\r\n", 9), olen += 9;
              io_send (fd, out, olen);
              return;
            }
          else
            reply = "250 ok\r\n";
          if (reply != NULL)
            {
              size_t rl = strlen (reply);
              if (olen + rl > sizeof out)
                {
                  io_send (fd, out, olen);
                  olen = 0;
                }
              memcpy (out + olen, reply, rl);
              olen += rl;
            }
          p = nl + 1;
        }
      if (p == in && have == 0)
        continue; /* just went over to TLS */
      have -= (size_t) (p - in);
      memmove (in, p, have);
      if (have == sizeof in)
        have = 0; /* an overlong line: dropped */
      if (olen > 0 && io_send (fd, out, olen) != (ssize_t) olen)
        return;
    }
}

int main (int argc, char **argv)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t alen = sizeof a;
  struct sigaction sa;
  struct rusage ru;
  FILE *f;
  int l, one = 1;
  if (argc != 2 && argc != 4 && argc != 5)
    return 2;
  if (argc >= 4)
    {
      tls_ctx = SSL_CTX_new (TLS_server_method ());
      if (tls_ctx == NULL || SSL_CTX_use_certificate_chain_file (tls_ctx, argv[2]) != 1
          || SSL_CTX_use_PrivateKey_file (tls_ctx, argv[3], SSL_FILETYPE_PEM) != 1)
        return 1;
      if (argc == 5 && strcmp (argv[4], "tickets") == 0)
        SSL_CTX_set_num_tickets (tls_ctx, 2);
      else
        {
          SSL_CTX_set_num_tickets (tls_ctx, 0);
          SSL_CTX_set_options (tls_ctx, SSL_OP_NO_TICKET);
          SSL_CTX_set_session_cache_mode (tls_ctx, SSL_SESS_CACHE_OFF);
        }
    }
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_term; /* no SA_RESTART: accept returns EINTR */
  sigaction (SIGTERM, &sa, NULL);
  l = socket (AF_INET, SOCK_STREAM, 0);
  setsockopt (l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l < 0 || bind (l, (struct sockaddr *) &a, sizeof a) < 0 || listen (l, 512) < 0
      || getsockname (l, (struct sockaddr *) &a, &alen) < 0)
    return 1;
  f = fopen (argv[1], "w");
  if (f == NULL)
    return 1;
  fprintf (f, "%d", ntohs (a.sin_port));
  fclose (f);
  while (!stop)
    {
      int fd = accept (l, NULL, NULL);
      if (fd < 0)
        continue;
      session (fd);
      if (tls != NULL)
        {
          SSL_shutdown (tls);
          SSL_free (tls);
          tls = NULL;
        }
      close (fd);
    }
  getrusage (RUSAGE_SELF, &ru);
  printf ("accepted %ld user %ld.%06ld sys %ld.%06ld resumed %ld\n", accepted, (long) ru.ru_utime.tv_sec,
          (long) ru.ru_utime.tv_usec, (long) ru.ru_stime.tv_sec, (long) ru.ru_stime.tv_usec, resumed);
  return 0;
}
