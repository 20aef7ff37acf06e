{{/*
"true" when the Prometheus Operator's kinds are to be used (metrics.prometheusOperator: auto
asks the cluster, true/false decide). Call with (dict "root" $ "kind" "PrometheusRule").
*/}}
{{- define "customerinfo.prometheusOperator" -}}
{{- $setting := .root.Values.metrics.prometheusOperator | toString }}
{{- if eq $setting "auto" }}
{{- .root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind) }}
{{- else }}
{{- eq $setting "true" }}
{{- end }}
{{- end }}

{{/*
"true" where the monitoring objects belong: the stable track (a canary's pods report the same
figures, read from the shared database) of a release that is not a review app.
*/}}
{{- define "customerinfo.monitored" -}}
{{- and (eq (include "customerinfo.isStable" .) "true") (ne (include "customerinfo.isReview" .) "true") }}
{{- end }}

{{/*
The rules file, helm/alerts/rules.yaml, with its ${name} placeholders filled in: the release's
namespace and Ingress, the runbook address and alerts.thresholds. A placeholder left unfilled
fails the render rather than reaching Prometheus.
*/}}
{{- define "customerinfo.alertRules" -}}
{{- $rules := .Files.Get "alerts/rules.yaml" }}
{{- $fill := dict "namespace" .Release.Namespace "ingress" (include "customerinfo.fullname" .) "runbookUrl" .Values.alerts.runbookUrl "selector" "" }}
{{- if .Values.alerts.matchNamespace }}
{{- $_ := set $fill "selector" (printf "namespace=%q" .Release.Namespace) }}
{{- end }}
{{- range $name, $value := .Values.alerts.thresholds }}
{{- $_ := set $fill $name $value }}
{{- end }}
{{- range $name, $value := $fill }}
{{- $rules = replace (printf "${%s}" $name) (toString $value) $rules }}
{{- end }}
{{- with regexFind "\\$\\{[A-Za-z0-9]+\\}" $rules }}
{{- fail (printf "helm/alerts/rules.yaml: %s has no value (alerts.thresholds)" .) }}
{{- end }}
{{- $rules }}
{{- end }}
