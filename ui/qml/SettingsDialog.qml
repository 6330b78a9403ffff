// Settings: models (list, add, switch with progress), engine, sampling, system prompt, theme.
// Every field writes through to AppSettings (QSettings) when edited.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts

Dialog {
    id: dialog
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject settings: workspace.settings
    readonly property QtObject engine: workspace.engine
    readonly property QtObject models: workspace.models

    parent: Overlay.overlay
    modal: true
    title: qsTr("Settings")
    standardButtons: Dialog.Close
    onOpened: {
        models.refresh()
        workspace.refreshDevices(settings.backend)
    }

    // A labelled number field that saves on Enter or when focus leaves.
    component NumberField: RowLayout {
        id: field
        property string label
        property real value
        property int decimals: 0
        property real from: 0
        property real to: 1000000
        property string hint
        signal edited(real value)
        Label {
            Layout.preferredWidth: 190
            text: field.label
        }
        TextField {
            id: input
            Layout.preferredWidth: 110
            text: field.decimals > 0 ? field.value.toFixed(field.decimals) : String(Math.round(field.value))
            validator: DoubleValidator {
                bottom: field.from
                top: field.to
                decimals: field.decimals
                notation: DoubleValidator.StandardNotation
            }
            onEditingFinished: {
                const v = Number(text)
                if (!isNaN(v)) field.edited(v)
            }
        }
        Label {
            Layout.fillWidth: true
            text: field.hint
            color: dialog.theme.subtle
            elide: Text.ElideRight
        }
    }

    component Heading: Label {
        font.bold: true
        font.pixelSize: 15
        topPadding: 10
    }

    // One tab per area. A page is its own file (EnginesPage.qml, ...): add its TabButton and its
    // entry in the StackLayout below, in the same order.
    header: TabBar {
        id: tabs
        objectName: "settingsTabs"
        TabButton { text: qsTr("General") }
        // tabs: more TabButtons here
        TabButton { text: qsTr("API server"); objectName: "settingsApiServerTab" }
        TabButton { text: qsTr("Engines"); objectName: "settingsEnginesTab" }
        TabButton { text: qsTr("Tools"); objectName: "settingsToolsTab" }
    }

    StackLayout {
        anchors.fill: parent
        currentIndex: tabs.currentIndex

    ScrollView {
        id: scroll
        objectName: "settingsGeneralPage"
        contentWidth: availableWidth

        ColumnLayout {
            width: scroll.availableWidth
            spacing: 8

            Heading { text: qsTr("Model") }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                color: dialog.theme.subtle
                text: qsTr("GGUF files in %1 and files you add, then the models of your remote engines (the Engines tab). Choosing one loads it; the chat continues with the new model.")
                      .arg(dialog.models.modelsFolder)
            }
            ListView {
                id: modelList
                objectName: "modelList"
                Layout.fillWidth: true
                Layout.preferredHeight: Math.min(contentHeight, 220)
                clip: true
                model: dialog.models
                delegate: ItemDelegate {
                    id: modelRow
                    required property string path
                    required property string name
                    required property string parameters
                    required property string quant
                    required property string size
                    required property int contextLength
                    required property string error
                    required property bool ready
                    required property bool remote
                    required property string engine
                    width: modelList.width
                    highlighted: path === dialog.engine.modelPath
                    // An engine that could not be listed is a row without a model to choose.
                    enabled: !dialog.engine.loading && path !== ""
                    contentItem: ColumnLayout {
                        spacing: 2
                        Label {
                            Layout.fillWidth: true
                            text: modelRow.name + (modelRow.highlighted ? qsTr("  (loaded)") : "")
                            font.bold: true
                            elide: Text.ElideRight
                            color: modelRow.highlighted ? palette.highlightedText : dialog.theme.text
                        }
                        Label {
                            Layout.fillWidth: true
                            elide: Text.ElideMiddle
                            color: modelRow.error ? dialog.theme.error : modelRow.highlighted ? palette.highlightedText : dialog.theme.subtle
                            text: modelRow.error ? modelRow.error
                                 : !modelRow.ready ? (modelRow.remote ? qsTr("asking %1 for its models…").arg(modelRow.engine) : qsTr("reading…"))
                                 : modelRow.remote ? qsTr("remote · %1%2").arg(modelRow.engine)
                                                     .arg(modelRow.contextLength > 0 ? qsTr(" · context %1").arg(modelRow.contextLength) : "")
                                 : qsTr("%1 parameters · %2 · %3 · context %4 · %5")
                                   .arg(modelRow.parameters).arg(modelRow.quant).arg(modelRow.size)
                                   .arg(modelRow.contextLength).arg(modelRow.path)
                        }
                    }
                    onClicked: if (!highlighted) dialog.workspace.selectModel(path)
                }
                Label {
                    anchors.centerIn: parent
                    visible: modelList.count === 0
                    text: qsTr("No models yet: add a GGUF file.")
                    color: dialog.theme.subtle
                }
            }
            RowLayout {
                Button {
                    text: qsTr("Add GGUF file…")
                    onClicked: addDialog.open()
                }
                Button {
                    objectName: "refreshRemoteModels"
                    text: qsTr("Refresh remote models")
                    onClicked: dialog.models.refreshRemote()
                }
                ProgressBar {
                    visible: dialog.engine.loading
                    Layout.fillWidth: true
                    from: 0
                    to: 1
                    value: dialog.engine.loadProgress
                }
                Label {
                    visible: dialog.engine.loading
                    text: qsTr("Loading…")
                }
            }

            ModelCatalog {
                Layout.fillWidth: true
                workspace: dialog.workspace
                theme: dialog.theme
                catalog: modelCatalog
                localModels: localModelFiles
            }

            Heading { text: qsTr("Engine") }
            RowLayout {
                Label {
                    Layout.preferredWidth: 190
                    text: qsTr("Backend")
                }
                ComboBox {
                    id: backendBox
                    Layout.preferredWidth: 160
                    model: dialog.settings.availableBackends()
                    currentIndex: Math.max(0, model.indexOf(dialog.settings.backend))
                    onActivated: {
                        dialog.settings.backend = currentText
                        dialog.workspace.refreshDevices(currentText)
                    }
                }
            }
            RowLayout {
                Label {
                    Layout.preferredWidth: 190
                    text: qsTr("Device")
                }
                ComboBox {
                    id: deviceBox
                    objectName: "deviceBox"
                    Layout.preferredWidth: 360
                    textRole: "text"
                    valueRole: "value"
                    model: dialog.workspace.devices
                    currentIndex: Math.max(0, indexOfValue(dialog.settings.device))
                    onActivated: dialog.settings.device = currentValue
                }
            }
            NumberField {
                label: qsTr("Threads")
                hint: qsTr("0 = one per core")
                value: dialog.settings.threads
                to: 256
                onEdited: v => dialog.settings.threads = v
            }
            NumberField {
                label: qsTr("Context length")
                hint: qsTr("tokens; capped at the model's")
                value: dialog.settings.contextLength
                from: 256
                to: 1048576
                onEdited: v => dialog.settings.contextLength = v
            }
            Button {
                text: qsTr("Apply engine settings (reload model)")
                enabled: dialog.engine.modelReady && !dialog.engine.loading
                onClicked: dialog.workspace.reloadModel()
            }
            NumberField {
                label: qsTr("Remote first-byte timeout")
                hint: qsTr("seconds a remote reply may take to start (a busy server queues and reads the prompt first)")
                value: dialog.workspace.remoteFirstByteTimeout
                from: 5
                to: 3600
                onEdited: v => dialog.workspace.remoteFirstByteTimeout = v
            }
            NumberField {
                label: qsTr("Remote summary requests")
                hint: qsTr("parts of a document summarized at once on a remote engine (it batches them)")
                value: dialog.workspace.remoteMapConcurrency
                from: 1
                to: 64
                onEdited: v => dialog.workspace.remoteMapConcurrency = v
            }
            NumberField {
                label: qsTr("Summary map steps at once")
                hint: qsTr("parts of a document a local model summarizes together (0 = chosen from the backend and free memory)")
                value: dialog.workspace.summaryMapSteps
                from: 0
                to: 64
                onEdited: v => dialog.workspace.summaryMapSteps = v
            }
            SpeedUpSettings {
                Layout.fillWidth: true
                settings: dialog.settings
                engine: dialog.engine
                theme: dialog.theme
                localModels: localModelFiles
            }

            Heading { text: qsTr("Replies") }
            NumberField {
                label: qsTr("Temperature")
                hint: qsTr("0 = always the likeliest token")
                decimals: 2
                to: 5
                value: dialog.settings.temperature
                onEdited: v => dialog.settings.temperature = v
            }
            NumberField {
                label: qsTr("Top-k")
                hint: qsTr("0 = off")
                value: dialog.settings.topK
                to: 100000
                onEdited: v => dialog.settings.topK = v
            }
            NumberField {
                label: qsTr("Top-p")
                hint: qsTr("1 = off")
                decimals: 2
                to: 1
                value: dialog.settings.topP
                onEdited: v => dialog.settings.topP = v
            }
            NumberField {
                label: qsTr("Min-p")
                hint: qsTr("0 = off")
                decimals: 2
                to: 0.99
                value: dialog.settings.minP
                onEdited: v => dialog.settings.minP = v
            }
            NumberField {
                label: qsTr("Repeat penalty")
                hint: qsTr("1 = off")
                decimals: 2
                from: 0.5
                to: 3
                value: dialog.settings.repeatPenalty
                onEdited: v => dialog.settings.repeatPenalty = v
            }
            NumberField {
                label: qsTr("Max reply length")
                hint: qsTr("tokens")
                from: 1
                to: 1048576
                value: dialog.settings.maxTokens
                onEdited: v => dialog.settings.maxTokens = v
            }
            Button {
                text: qsTr("Reset reply settings")
                onClicked: dialog.settings.resetSampling()
            }

            Heading { text: qsTr("System prompt") }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                color: dialog.theme.subtle
                text: qsTr("Used for new chats. A chat can have its own (This chat… above the conversation).")
            }
            TextArea {
                Layout.fillWidth: true
                Layout.preferredHeight: 90
                wrapMode: TextEdit.Wrap
                text: dialog.settings.systemPrompt
                onEditingFinished: dialog.settings.systemPrompt = text
            }

            Heading { text: qsTr("Appearance") }
            RowLayout {
                Label {
                    Layout.preferredWidth: 190
                    text: qsTr("Theme")
                }
                ComboBox {
                    Layout.preferredWidth: 160
                    textRole: "text"
                    valueRole: "value"
                    model: [{ value: "system", text: qsTr("System") }, { value: "light", text: qsTr("Light") },
                            { value: "dark", text: qsTr("Dark") }]
                    currentIndex: Math.max(0, indexOfValue(dialog.settings.theme))
                    onActivated: dialog.settings.theme = currentValue
                }
            }
            Label {
                Layout.topMargin: 12
                text: qsTr("LlamaDesk %1").arg(dialog.workspace.version)
                color: dialog.theme.subtle
            }
        }
    }
        // pages: more pages here, in the TabBar's order
        ApiServerPage {
            theme: dialog.theme
            server: apiServer
            workspace: dialog.workspace
        }
        EnginesPage {
            theme: dialog.theme
            engines: remoteEngines
            settings: dialog.settings
        }
        ToolsPage {
            theme: dialog.theme
            tools: toolServers
        }
    }

    FileDialog {
        id: addDialog
        objectName: "addModelFileDialog"
        title: qsTr("Add a model")
        nameFilters: [qsTr("GGUF models (*.gguf)"), qsTr("All files (*)")]
        currentFolder: dialog.workspace.settings.dialogFolder
        onAccepted: {
            dialog.workspace.settings.rememberDialogFolder(selectedFile)
            dialog.workspace.addModelFile(selectedFile)
        }
    }
}
