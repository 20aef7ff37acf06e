{{/*
Chart name, overridable.
*/}}
{{- define "customerinfo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's track: stable, or a second release of the same environment (canary, rollout)
that runs next to it against the same database.
*/}}
{{- define "customerinfo.track" -}}
{{- .Values.application.track | default "stable" | toString }}
{{- end }}

{{/*
"true" for the stable track. Only it owns the environment's database: it alone runs the
migration hook and beat, and it alone claims the hosts (canaries join its Ingress as nginx
canaries). Used as `eq (include "customerinfo.isStable" .) "true"`.
*/}}
{{- define "customerinfo.isStable" -}}
{{- eq (include "customerinfo.track" .) "stable" }}
{{- end }}

{{/*
Name of the stable release's objects: releaseOverride (Auto Deploy passes the environment's
release name there, on every track), else the Helm release name.
*/}}
{{- define "customerinfo.stableName" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default .Release.Name .Values.releaseOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Full name of this release's objects. Auto Deploy waits on `deployment/<release>`, and names a
canary release <release>-canary, so non-stable tracks get the track as a suffix.
*/}}
{{- define "customerinfo.fullname" -}}
{{- $base := include "customerinfo.stableName" . }}
{{- if ne (include "customerinfo.isStable" .) "true" }}
{{- $base = printf "%s-%s" $base (include "customerinfo.track" .) }}
{{- end }}
{{- $base | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of a component's objects: <fullname>-<component>, kept within 63 characters.
*/}}
{{- define "customerinfo.componentName" -}}
{{- $fullname := include "customerinfo.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-" }}
{{- printf "%s-%s" $fullname .component }}
{{- end }}

{{- define "customerinfo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that never change for the life of an object (Deployment selectors are immutable).
The instance is per track, so the stable Service never selects canary pods.
Call with (dict "root" $ "component" "web").
*/}}
{{- define "customerinfo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "customerinfo.name" .root }}
app.kubernetes.io/instance: {{ include "customerinfo.fullname" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "customerinfo.labels" -}}
{{ include "customerinfo.selectorLabels" . }}
helm.sh/chart: {{ include "customerinfo.chart" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: customerinfo
track: {{ include "customerinfo.track" .root | quote }}
{{- end }}

{{/*
GitLab links Deployments and pods to an environment through these annotations.
*/}}
{{- define "customerinfo.gitlabAnnotations" -}}
{{- with .Values.gitlab.app }}
app.gitlab.com/app: {{ . | toString | quote }}
{{- end }}
{{- with .Values.gitlab.env }}
app.gitlab.com/env: {{ . | toString | quote }}
{{- end }}
{{- end }}

{{- define "customerinfo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "customerinfo.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The migration hook runs before the release's own objects exist, its ServiceAccount included,
so it uses the namespace's default account unless the operator names an existing one.
*/}}
{{- define "customerinfo.hookServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- "default" }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "customerinfo.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
Tenants live at <slug>.<base domain>: config.baseDomain, else the host name of service.url
(Auto Deploy sets it to the environment URL).
*/}}
{{- define "customerinfo.baseDomain" -}}
{{- $domain := .Values.config.baseDomain | default "" | toString }}
{{- if and (not $domain) .Values.service.url }}
{{- $domain = (urlParse (toString .Values.service.url)).hostname }}
{{- end }}
{{- required "set config.baseDomain or service.url: tenants are served at <slug>.<base domain>" $domain }}
{{- end }}

{{/*
Extra host names, one per line. Auto Deploy passes ADDITIONAL_HOSTS as a list ({a,b}) or, when
the variable is unset, as an empty string.
*/}}
{{- define "customerinfo.additionalHosts" -}}
{{- $given := .Values.service.additionalHosts }}
{{- $hosts := list }}
{{- if kindIs "slice" $given }}
{{- $hosts = $given }}
{{- else if $given }}
{{- $hosts = splitList "," (toString $given) }}
{{- end }}
{{- range $hosts }}
{{- if . }}
{{ . | toString | trim }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"true" for a GitLab review app (environment review/<branch>, slug review-<branch>).
*/}}
{{- define "customerinfo.isReview" -}}
{{- or (hasPrefix "review/" (toString .Values.gitlab.envName)) (hasPrefix "review-" (toString .Values.gitlab.env)) }}
{{- end }}

{{/*
Pod-level fields shared by every workload (web, worker, beat, migration Job).
*/}}
{{- define "customerinfo.podAnnotations" -}}
{{- include "customerinfo.gitlabAnnotations" . }}
{{- with .Values.application.secretChecksum }}
checksum/application-secret: {{ . | toString | quote }}
{{- end }}
{{- range $key, $value := .Values.podAnnotations }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
The pod template's metadata. Call with (dict "root" $ "component" "web").
*/}}
{{- define "customerinfo.podMetadata" -}}
labels:
  {{- include "customerinfo.labels" . | nindent 2 }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with include "customerinfo.podAnnotations" .root }}
annotations:
  {{- . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "customerinfo.podSpecCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- /* Auto Deploy's generated values file names its registry pull secret in image.secrets. */}}
{{- $pullSecrets := list }}
{{- range .Values.image.secrets }}
{{- if .name }}
{{- $pullSecrets = append $pullSecrets (dict "name" .name) }}
{{- end }}
{{- end }}
{{- with $pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Container fields shared by every workload: image, environment, security context, /tmp.
Variables in `env` win over the application secret's (`envFrom`), which is how a review app's
own database and Redis override whatever the secret says.
Call with (dict "root" $) or (dict "root" $ "heartbeatFile" path) for a Celery process.
*/}}
{{- define "customerinfo.containerCommon" -}}
{{- $root := .root }}
{{- $values := $root.Values }}
image: {{ include "customerinfo.image" $root | quote }}
imagePullPolicy: {{ $values.image.pullPolicy }}
env:
  - name: CUSTOMERINFO_ENV
    value: production
  - name: BASE_DOMAIN
    value: {{ include "customerinfo.baseDomain" $root | quote }}
  {{- with $values.config.allowedHosts }}
  - name: ALLOWED_HOSTS
    value: {{ . | toString | quote }}
  {{- end }}
  {{- with $values.application.database_url }}
  - name: DATABASE_URL
    value: {{ . | toString | quote }}
  {{- end }}
  {{- if eq (include "customerinfo.isReview" $root) "true" }}
  - name: REDIS_URL
    value: {{ include "customerinfo.reviewRedisUrl" $root | quote }}
  - name: CELERY_BROKER_URL
    value: {{ include "customerinfo.reviewRedisUrl" $root | quote }}
  {{- end }}
  {{- with .heartbeatFile }}
  - name: CELERY_HEARTBEAT_FILE
    value: {{ . | quote }}
  {{- end }}
  {{- range $name, $value := $values.config.extraEnv }}
  - name: {{ $name }}
    value: {{ $value | toString | quote }}
  {{- end }}
{{- with $values.application.secretName }}
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end }}

{{/*
The exec probe of a Celery process: the age of its heartbeat file (customerinfo.core.heartbeat).
Call with (dict "file" path "maxAge" seconds).
*/}}
{{- define "customerinfo.heartbeatCommand" -}}
exec:
  command:
    - python
    - -m
    - customerinfo.core.heartbeat
    - {{ .file | quote }}
    - --max-age
    - {{ .maxAge | toString | quote }}
{{- end }}

{{/*
A review app's own Redis (templates/review-redis.yaml): its queue, cache and rate limits never
meet staging's or production's, whatever REDIS_URL its application secret holds.
*/}}
{{- define "customerinfo.reviewRedisUrl" -}}
{{- printf "redis://%s:6379/0" (include "customerinfo.componentName" (dict "root" . "component" "redis")) }}
{{- end }}
