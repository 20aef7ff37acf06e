{{/*
"true" when this release runs the backup CronJobs: backups on, the stable track (a canary or
rollout shares its database), and no review app unless backup.reviewApps.
*/}}
{{- define "customerinfo.backupEnabled" -}}
{{- $review := eq (include "customerinfo.isReview" .) "true" }}
{{- and .Values.backup.enabled (eq (include "customerinfo.isStable" .) "true") (or (not $review) .Values.backup.reviewApps) }}
{{- end }}

{{/*
A CronJob of the backups: the worker's image, environment and secrets, plus the backup
settings and an emptyDir work folder. The shared pod and container fields are read back as
data so that the work folder joins their volume lists instead of repeating them.
Call with (dict "root" $ "component" name "schedule" cron "command" argv "backoffLimit" n
"activeDeadlineSeconds" n "resources" map "env" list).
*/}}
{{- define "customerinfo.backupCronJob" -}}
{{- $root := .root }}
{{- $backup := $root.Values.backup }}
{{- $component := dict "root" $root "component" .component }}
{{- /* The controller names each Job <cronjob>-<minutes since epoch>: 52 characters leave room. */}}
{{- $fullname := include "customerinfo.fullname" $root | trunc (int (sub 51 (len .component))) | trimSuffix "-" }}
{{- $env := list
  (dict "name" "BACKUP_STORAGE" "value" (toString $backup.storage))
  (dict "name" "BACKUP_WORK_DIR" "value" (toString $backup.workDir.mountPath)) }}
{{- range $name, $value := dict "BACKUP_S3_BUCKET" $backup.s3.bucket "BACKUP_S3_ENDPOINT_URL" $backup.s3.endpointUrl "BACKUP_S3_REGION" $backup.s3.region "BACKUP_S3_PREFIX" $backup.s3.prefix "BACKUP_S3_SERVER_SIDE_ENCRYPTION" $backup.s3.serverSideEncryption "BACKUP_S3_KMS_KEY_ID" $backup.s3.kmsKeyId }}
{{- if $value }}
{{- $env = append $env (dict "name" $name "value" (toString $value)) }}
{{- end }}
{{- end }}
{{- range $name, $value := $backup.env }}
{{- $env = append $env (dict "name" $name "value" (toString $value)) }}
{{- end }}
{{- $env = concat $env (.env | default list) }}
{{- $container := include "customerinfo.containerCommon" (dict "root" $root) | fromYaml }}
{{- $_ := set $container "name" .component }}
{{- $_ = set $container "command" .command }}
{{- $_ = set $container "resources" .resources }}
{{- $_ = set $container "env" (concat $container.env $env) }}
{{- $_ = set $container "volumeMounts" (append $container.volumeMounts (dict "name" "backup-work" "mountPath" $backup.workDir.mountPath)) }}
{{- $pod := include "customerinfo.podSpecCommon" $root | fromYaml }}
{{- $_ = set $pod "volumes" (append $pod.volumes (dict "name" "backup-work" "emptyDir" (dict "sizeLimit" $backup.workDir.sizeLimit))) }}
{{- $_ = set $pod "serviceAccountName" (include "customerinfo.serviceAccountName" $root) }}
{{- /* A failed pod stays for its log; a retry is a new pod (backoffLimit). */}}
{{- $_ = set $pod "restartPolicy" "Never" }}
{{- $_ = set $pod "containers" (list $container) }}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ printf "%s-%s" $fullname .component }}
  labels:
    {{- include "customerinfo.labels" $component | nindent 4 }}
  {{- with include "customerinfo.gitlabAnnotations" $root }}
  annotations:
    {{- . | nindent 4 }}
  {{- end }}
spec:
  schedule: {{ .schedule | quote }}
  timeZone: {{ $backup.timeZone | quote }}
  # Never two at once: the next night's run waits rather than reading beside a slow one.
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: {{ $backup.startingDeadlineSeconds }}
  successfulJobsHistoryLimit: {{ $backup.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $backup.failedJobsHistoryLimit }}
  jobTemplate:
    metadata:
      labels:
        {{- include "customerinfo.labels" $component | nindent 8 }}
    spec:
      backoffLimit: {{ .backoffLimit }}
      activeDeadlineSeconds: {{ .activeDeadlineSeconds }}
      template:
        metadata:
          {{- include "customerinfo.podMetadata" $component | nindent 10 }}
        spec:
          {{- toYaml $pod | nindent 10 }}
{{- end }}
