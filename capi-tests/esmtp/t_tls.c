/* STARTTLS: several sessions in one process, configuration files.

   usage: t_tls HOST:PORT [sessions=N] [required=1] [ca=badperm|empty]
                          [ev<N>=V ...]
     sessions=N   N sessions one after the other (create .. destroy each)
     required=1   Starttls_REQUIRED instead of Starttls_ENABLED
     ca=badperm   create $HOME/.config/libesmtp/ca.pem with mode 0644
     ca=empty     create it with mode 0600 but empty
   The runner sets HOME to a fresh directory for every case.  */
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include "common.h"

static void make_ca (const char *how)
{
  char path[1024];
  const char *home = getenv ("HOME");
  int fd;
  snprintf (path, sizeof path, "%s/.config", home);
  mkdir (path, 0700);
  snprintf (path, sizeof path, "%s/.config/libesmtp", home);
  mkdir (path, 0700);
  snprintf (path, sizeof path, "%s/.config/libesmtp/ca.pem", home);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (strcmp (how, "badperm") == 0)
    {
      if (write (fd, "not a certificate\n", 18) != 18)
        printf ("write failed\n");
      fchmod (fd, 0644);
    }
  close (fd);
  printf ("created ca.pem (%s)\n", how);
}

int main (int argc, char **argv)
{
  int i, n;
  const char *v;

  init_test (argc, argv);
  if ((v = opt_str ("ca", NULL)) != NULL)
    make_ca (v);
  n = (int) opt_int ("sessions", 1);
  for (i = 1; i <= n; i++)
    {
      smtp_session_t s;
      smtp_message_t m;
      printf ("=== session %d\n", i);
      s = new_session (argv[1]);
      printf ("smtp_starttls_enable=%d\n", smtp_starttls_enable (s,
              opt_int ("required", 0) ? Starttls_REQUIRED : Starttls_ENABLED));
      m = smtp_add_message (s);
      reg (m, "m%d", i);
      smtp_set_reverse_path (m, "sender@example.org");
      reg (smtp_add_recipient (m, "rcpt@example.org"), "r%d", i);
      fixed_headers (m);
      smtp_set_message_str (m, "Subject: tls\r\n\r\nBody.\r\n");
      run_session (s);
      print_all_statuses (s);
      printf ("smtp_destroy_session=%d\n", smtp_destroy_session (s));
    }
  return 0;
}
