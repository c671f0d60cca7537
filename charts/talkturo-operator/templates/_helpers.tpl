{{/* Names and labels shared by every template. */}}
{{- define "talkturo-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "talkturo-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "talkturo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "talkturo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "talkturo-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "talkturo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "talkturo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "talkturo-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "talkturo-operator.apiKeySecretName" -}}
{{- if .Values.apiKey.existingSecret -}}
{{- .Values.apiKey.existingSecret -}}
{{- else -}}
{{- printf "%s-api-key" (include "talkturo-operator.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "talkturo-operator.secretNamespaces" -}}
{{- $list := .Values.rbac.secretNamespaces | default (list .Release.Namespace) -}}
{{- toJson ($list | uniq) -}}
{{- end -}}
