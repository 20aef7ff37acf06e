{{/*
Chart name, overridable.
*/}}
{{- define "customerinfo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. Auto Deploy passes the release name as releaseOverride and
expects the web Deployment to carry exactly this name (it runs `kubectl rollout status
deployment/<release>`). Non-stable tracks (canary, rollout) get a suffix so they coexist.
*/}}
{{- define "customerinfo.fullname" -}}
{{- $base := "" }}
{{- if .Values.fullnameOverride }}
{{- $base = .Values.fullnameOverride }}
{{- else }}
{{- $base = default .Release.Name .Values.releaseOverride }}
{{- end }}
{{- $track := .Values.application.track | default "stable" | toString }}
{{- if ne $track "stable" }}
{{- $base = printf "%s-%s" $base $track }}
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
track: {{ .root.Values.application.track | default "stable" | toString | quote }}
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

{{- define "customerinfo.podSpecCommon" -}}
serviceAccountName: {{ include "customerinfo.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
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
*/}}
{{- define "customerinfo.containerCommon" -}}
image: {{ include "customerinfo.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
env:
  - name: CUSTOMERINFO_ENV
    value: production
  - name: BASE_DOMAIN
    value: {{ include "customerinfo.baseDomain" . | quote }}
  {{- with .Values.config.allowedHosts }}
  - name: ALLOWED_HOSTS
    value: {{ . | toString | quote }}
  {{- end }}
  {{- with .Values.application.database_url }}
  - name: DATABASE_URL
    value: {{ . | toString | quote }}
  {{- end }}
  {{- range $name, $value := .Values.config.extraEnv }}
  - name: {{ $name }}
    value: {{ $value | toString | quote }}
  {{- end }}
{{- with .Values.application.secretName }}
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end }}
