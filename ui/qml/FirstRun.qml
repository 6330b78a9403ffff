// Shown while no model is loaded: how to get one, and a file dialog to pick a GGUF.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts

Item {
    id: page
    required property QtObject workspace
    required property QtObject theme
    objectName: "firstRun"

    ColumnLayout {
        anchors.centerIn: parent
        width: Math.min(parent.width - 64, 560)
        spacing: 14

        Label {
            text: qsTr("Welcome to LlamaDesk")
            font.pixelSize: 24
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            textFormat: Text.MarkdownText
            text: qsTr("LlamaDesk runs Llama models on this computer; nothing you type leaves it. "
                     + "It needs a model file in **GGUF** format.\n\n"
                     + "A good start is **Llama 3.1 8B Instruct, Q4_K_M** (4.9 GB): download "
                     + "`Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf` from a public GGUF repository on Hugging Face "
                     + "(for example bartowski's *Meta-Llama-3.1-8B-Instruct-GGUF*), after accepting Meta's license. "
                     + "Smaller computers: Llama 3.2 3B or 1B Instruct, Q4_K_M.\n\n"
                     + "Put models in `%1` to have them listed in Settings, or pick a file now.")
                  .arg(page.workspace.models.modelsFolder)
        }
        Button {
            text: qsTr("Choose a GGUF file…")
            highlighted: true
            onClicked: picker.open()
        }
    }

    FileDialog {
        id: picker
        title: qsTr("Choose a model")
        nameFilters: [qsTr("GGUF models (*.gguf)"), qsTr("All files (*)")]
        onAccepted: page.workspace.addModelFile(selectedFile)
    }
}
