"""Kubernetes' Pod Security Standards, restricted profile (which includes baseline), as the
admission controller checks a pod spec: one line per control that the spec breaks.

The controls and their allowed values are those of
kubernetes.io/docs/concepts/security/pod-security-standards/ (Kubernetes 1.30).
"""
from typing import Dict, Iterator, List

BASELINE_CAPABILITIES = {'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL',
                         'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID',
                         'SYS_CHROOT'}
RESTRICTED_VOLUMES = {'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral',
                      'persistentVolumeClaim', 'projected', 'secret'}
SAFE_SYSCTLS = {'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range',
                'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies',
                'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports',
                'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
                'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'}
SELINUX_TYPES = {None, 'container_t', 'container_init_t', 'container_kvm_t',
                 'container_engine_t'}


def _containers(pod: Dict) -> Iterator[Dict]:
  for key in ('initContainers', 'containers', 'ephemeralContainers'):
    yield from pod.get(key) or []


def _baseline(pod: Dict) -> Iterator[str]:
  pod_context = pod.get('securityContext') or {}
  for key in ('hostNetwork', 'hostPID', 'hostIPC'):
    if pod.get(key):
      yield f'host namespaces: {key}'
  for volume in pod.get('volumes') or []:
    if 'hostPath' in volume:
      yield f'hostPath volume {volume["name"]}'
  for sysctl in pod_context.get('sysctls') or []:
    if sysctl['name'] not in SAFE_SYSCTLS:
      yield f'unsafe sysctl {sysctl["name"]}'
  for context in [pod_context] + [c.get('securityContext') or {} for c in _containers(pod)]:
    if (context.get('windowsOptions') or {}).get('hostProcess'):
      yield 'HostProcess'
    if (context.get('seLinuxOptions') or {}).get('type') not in SELINUX_TYPES:
      yield 'SELinux type'
    if {'user', 'role'} & set(context.get('seLinuxOptions') or {}):
      yield 'SELinux user or role'
    if (context.get('appArmorProfile') or {}).get('type') not in (None, 'RuntimeDefault',
                                                                  'Localhost'):
      yield 'AppArmor profile'
  for container in _containers(pod):
    name, context = container['name'], container.get('securityContext') or {}
    if context.get('privileged'):
      yield f'{name}: privileged'
    if set((context.get('capabilities') or {}).get('add') or []) - BASELINE_CAPABILITIES:
      yield f'{name}: capabilities beyond baseline'
    if any(port.get('hostPort') for port in container.get('ports') or []):
      yield f'{name}: hostPort'
    if context.get('procMount', 'Default') != 'Default':
      yield f'{name}: procMount'


def _restricted(pod: Dict) -> Iterator[str]:
  pod_context = pod.get('securityContext') or {}
  for volume in pod.get('volumes') or []:
    kinds = set(volume) - {'name'}
    if not kinds <= RESTRICTED_VOLUMES:
      yield f'volume {volume["name"]}: type {sorted(kinds)} not allowed'
  for container in _containers(pod):
    name, context = container['name'], container.get('securityContext') or {}
    if context.get('allowPrivilegeEscalation') is not False:
      yield f'{name}: allowPrivilegeEscalation must be false'
    non_root = context.get('runAsNonRoot', pod_context.get('runAsNonRoot'))
    if non_root is not True:
      yield f'{name}: runAsNonRoot must be true (pod or container)'
    if context.get('runAsUser', pod_context.get('runAsUser')) == 0:
      yield f'{name}: runAsUser must not be 0'
    seccomp = (context.get('seccompProfile') or pod_context.get('seccompProfile') or {})
    if seccomp.get('type') not in ('RuntimeDefault', 'Localhost'):
      yield f'{name}: seccompProfile must be RuntimeDefault or Localhost'
    capabilities = context.get('capabilities') or {}
    if 'ALL' not in (capabilities.get('drop') or []):
      yield f'{name}: capabilities must drop ALL'
    if set(capabilities.get('add') or []) - {'NET_BIND_SERVICE'}:
      yield f'{name}: capabilities may add only NET_BIND_SERVICE'


def restricted_violations(pod: Dict) -> List[str]:
  """What the restricted profile refuses in this pod spec; [] when it admits it."""
  return list(_baseline(pod)) + list(_restricted(pod))
