/* banned.h - functions we never call (git's banned.h). Included last by every .c file through
 * the build (-include), so a banned call is a compile error with a name that says why. */
#ifndef LX_BANNED_H
#define LX_BANNED_H

#define LX_BANNED(func) sorry_##func##_is_banned_see_core_banned_h

#undef strcpy
#define strcpy(x, y) LX_BANNED(strcpy)
#undef strcat
#define strcat(x, y) LX_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) LX_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) LX_BANNED(strncat)
#undef sprintf
#define sprintf(...) LX_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) LX_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) LX_BANNED(strtok)
#undef gets
#define gets(x) LX_BANNED(gets)
#undef gmtime
#define gmtime(t) LX_BANNED(gmtime)
#undef localtime
#define localtime(t) LX_BANNED(localtime)
#undef ctime
#define ctime(t) LX_BANNED(ctime)
#undef asctime
#define asctime(t) LX_BANNED(asctime)
#undef atoi
#define atoi(x) LX_BANNED(atoi)
#undef atol
#define atol(x) LX_BANNED(atol)

#endif /* LX_BANNED_H */
