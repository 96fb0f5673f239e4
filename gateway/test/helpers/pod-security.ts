/**
 * Kubernetes Pod Security Standards, "restricted" profile (which includes "baseline"), as checks on a
 * pod spec: the rules of https://kubernetes.io/docs/concepts/security/pod-security-standards/ for Linux
 * pods. Returns one line per violation; empty means the pod would be admitted in a namespace enforcing
 * `pod-security.kubernetes.io/enforce: restricted`.
 */
type Obj = Record<string, any>;

const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set([undefined, '', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

export function restrictedViolations(pod: Obj): string[] {
  const violations: string[] = [];
  const podContext: Obj = pod.securityContext ?? {};
  const containers: [string, Obj][] = (['initContainers', 'containers', 'ephemeralContainers'] as const).flatMap((kind) =>
    ((pod[kind] ?? []) as Obj[]).map((c): [string, Obj] => [`${kind}.${c.name}`, c]),
  );

  // Baseline.
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod[field]) violations.push(`${field} is set`);
  if (podContext.windowsOptions?.hostProcess) violations.push('pod hostProcess');
  for (const [, value] of Object.entries(podContext.sysctls ?? {})) {
    if (!SAFE_SYSCTLS.has((value as Obj).name)) violations.push(`unsafe sysctl ${(value as Obj).name}`);
  }
  for (const volume of (pod.volumes ?? []) as Obj[]) {
    const type = Object.keys(volume).find((key) => key !== 'name');
    if (type === 'hostPath') violations.push(`volume ${volume.name} is a hostPath`);
    else if (!type || !RESTRICTED_VOLUME_TYPES.has(type)) violations.push(`volume ${volume.name} has type ${type}, not allowed by restricted`);
  }
  const seLinux = (context: Obj, where: string): void => {
    const options = context.seLinuxOptions;
    if (!options) return;
    if (!SELINUX_TYPES.has(options.type)) violations.push(`${where}: seLinuxOptions.type ${options.type}`);
    if (options.user || options.role) violations.push(`${where}: seLinuxOptions user/role set`);
  };
  seLinux(podContext, 'pod');
  const seccomp = (context: Obj): string | undefined => context.seccompProfile?.type;
  if (seccomp(podContext) === 'Unconfined') violations.push('pod seccompProfile is Unconfined');
  if (podContext.appArmorProfile?.type === 'Unconfined') violations.push('pod appArmorProfile is Unconfined');
  if (podContext.runAsUser === 0) violations.push('pod runAsUser is 0');

  for (const [where, container] of containers) {
    const context: Obj = container.securityContext ?? {};
    if (context.privileged) violations.push(`${where}: privileged`);
    if (context.windowsOptions?.hostProcess) violations.push(`${where}: hostProcess`);
    if (context.procMount && context.procMount !== 'Default') violations.push(`${where}: procMount ${context.procMount}`);
    if (context.appArmorProfile?.type === 'Unconfined') violations.push(`${where}: appArmorProfile is Unconfined`);
    for (const port of (container.ports ?? []) as Obj[]) if (port.hostPort) violations.push(`${where}: hostPort ${port.hostPort}`);
    seLinux(context, where);

    // Restricted.
    if (context.allowPrivilegeEscalation !== false) violations.push(`${where}: allowPrivilegeEscalation is not false`);
    const nonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot;
    if (nonRoot !== true) violations.push(`${where}: runAsNonRoot is not true`);
    if (context.runAsUser === 0) violations.push(`${where}: runAsUser is 0`);
    const profile = seccomp(context) ?? seccomp(podContext);
    if (profile !== 'RuntimeDefault' && profile !== 'Localhost') violations.push(`${where}: seccompProfile is ${profile ?? 'unset'}`);
    const capabilities: Obj = context.capabilities ?? {};
    if (!((capabilities.drop ?? []) as string[]).includes('ALL')) violations.push(`${where}: capabilities do not drop ALL`);
    for (const added of (capabilities.add ?? []) as string[]) if (added !== 'NET_BIND_SERVICE') violations.push(`${where}: adds capability ${added}`);
  }
  return violations;
}
