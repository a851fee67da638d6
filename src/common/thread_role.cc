#include "common/thread_role.h"

#include <pthread.h>
#include <sched.h>

namespace promewma {

void SetThisThreadRole(const std::string& name, ThreadRole role) {
  // pthread_setname_np refuses names over 15 characters: cut them.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  if (role == ThreadRole::kRequest) return;
  sched_param param{};
  param.sched_priority = 0;  // the only priority these classes have
  pthread_setschedparam(pthread_self(),
                        role == ThreadRole::kIdle ? SCHED_IDLE : SCHED_BATCH,
                        &param);
}

int ThisThreadPolicy() {
  int policy = -1;
  sched_param param{};
  if (pthread_getschedparam(pthread_self(), &policy, &param) != 0) return -1;
  return policy;
}

std::string ThisThreadName() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) return "";
  return name;
}

}  // namespace promewma
